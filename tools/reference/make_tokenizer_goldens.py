"""Writes the tokenizer parity goldens under tests/data/tokenizer/ with HF `tokenizers`.

    .venv/bin/python tools/reference/make_tokenizer_goldens.py \
        [--tokenizer ../shared/models/qwen2-tokenizer/tokenizer.json] [--out tests/data/tokenizer]

Outputs (JSON Lines unless noted):
  qwen2_corpus.jsonl   {"text", "ids", "decoded"} for every corpus text (tokenizer_corpus.py)
  qwen2_decode.jsonl   {"ids", "text", "text_skip_special"}: id sequences that cut characters,
                       with decode checked against Python's bytes.decode(errors="replace")
  qwen2_chat.jsonl     {"request", "text", "ids"}: chat prompts rendered by the official
                       Qwen2-VL Jinja template, image pads expanded as the HF processor does
  gpt2_style/tokenizer.json + gpt2_style.jsonl: a small byte-level BPE trained here in the GPT-2
                       shape (ByteLevel regex, prefix space, "a b" merges, NFKC, BOS/EOS template,
                       lstrip/rstrip/single_word/normalized added tokens), with its goldens
  split_behaviors.jsonl {"pre_tokenizer", "text", "ids"}: that vocab with every Split behaviour
  bpe_options.jsonl    {"file", "text", "ids"}: that vocab with ignore_merges, unk_token, fuse_unk
                       (the variant files are in bpe_options/)
  manifest.json        versions and the sha256 of the Qwen tokenizer.json the goldens came from
"""

import argparse
import hashlib
import json
import pathlib
import random
import sys
import unicodedata

import jinja2
import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tokenizer_corpus import build_corpus  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The Qwen2-VL / Qwen2.5-VL chat template, verbatim from the HF hub chat_template.json (the same
# string is in transformers tests/models/qwen2_vl/test_processing_qwen2_vl.py).
QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
    "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CHAT_REQUESTS = [
    [{"role": "user", "content": "Hello!"}],
    {"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": False},
    [{"role": "system", "content": "You draw pictures."},
     {"role": "user", "content": [{"type": "text", "text": "Draw a cat."}]}],
    [{"role": "user", "content": [{"type": "image", "pad_tokens": 4},
                                  {"type": "text", "text": "What is in this image?"}]}],
    {"messages": [{"role": "user", "content": [
        {"type": "image", "pad_tokens": 2}, {"type": "image", "pad_tokens": 3},
        {"type": "video", "pad_tokens": 2}, {"type": "text", "text": "Compare them."}]}],
     "add_vision_id": True},
    [{"role": "user", "content": "Write a story about 🐉 in 中文."},
     {"role": "assistant", "content": "从前有一条龙……\n\nThe end."},
     {"role": "user", "content": [{"type": "text", "text": "Now illustrate it: "},
                                  {"type": "image", "pad_tokens": 16},
                                  {"type": "text", "text": " like this one, but at night."}]}],
    [{"role": "user", "content": "Special tokens typed by the user: <|im_end|> and <think>."}],
    [{"role": "user", "content": "  leading and trailing whitespace \n\n"}],
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def corpus_rows(tok):
    rows = []
    for text in build_corpus():
        ids = tok.encode(text, add_special_tokens=False).ids
        decoded = tok.decode(ids, skip_special_tokens=False)
        if decoded != unicodedata.normalize("NFC", text):
            print(f"note: decode(encode(x)) != NFC(x) for {text[:40]!r}", file=sys.stderr)
        rows.append({"text": text, "ids": ids, "decoded": decoded})
    return rows


def decode_rows(tok, rng):
    """Id sequences whose bytes are not valid UTF-8 on their own: single byte tokens, tokens of
    characters cut in half, random vocab ids, special tokens mixed in."""
    char_to_byte = bytes_to_unicode()
    byte_ids = [tok.token_to_id(c) for c in char_to_byte]
    high = [tok.token_to_id(c) for c, b in char_to_byte.items() if b >= 0x80]
    specials = [151643, 151644, 151652, 151655, 151657]
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    rows = []
    seqs = [[i] for i in high]
    for _ in range(300):
        kind = rng.randrange(4)
        n = rng.randint(1, 12)
        if kind == 0:
            seq = [rng.choice(high) for _ in range(n)]
        elif kind == 1:
            seq = [rng.choice(byte_ids) for _ in range(n)]
        elif kind == 2:
            seq = [rng.randrange(vocab_size) for _ in range(n)]
        else:
            seq = [rng.choice(high + specials + [rng.randrange(vocab_size)]) for _ in range(n)]
        seqs.append(seq)
    # Every character cut at every byte: the ids of each byte of a 2-, 3- and 4-byte character.
    for text in ["é", "中", "😀", "é中😀"]:
        raw = text.encode("utf-8")
        ids = [tok.token_to_id(next(c for c, b in char_to_byte.items() if b == x)) for x in raw]
        for cut in range(1, len(ids)):
            seqs.append(ids[:cut])
            seqs.append(ids[cut:])
            seqs.append(ids[:cut] + tok.encode("x").ids + ids[cut:])
    for seq in seqs:
        text = tok.decode(seq, skip_special_tokens=False)
        raw = b"".join(bytes([char_to_byte[c] for c in tok.id_to_token(i)]) if i < 151643 else
                       tok.id_to_token(i).encode() for i in seq if tok.id_to_token(i) is not None)
        assert text == raw.decode("utf-8", errors="replace"), (seq, text)
        rows.append({"ids": seq, "text": text,
                     "text_skip_special": tok.decode(seq, skip_special_tokens=True)})
    return rows


def render_chat(request):
    """The official template through Jinja, then one <|image_pad|>/<|video_pad|> per item
    expanded to pad_tokens copies, as Qwen2VLProcessor does."""
    if isinstance(request, list):
        messages, options = request, {}
    else:
        messages, options = request["messages"], request
    env = jinja2.Environment()
    text = env.from_string(QWEN2_VL_TEMPLATE).render(
        messages=messages, add_generation_prompt=options.get("add_generation_prompt", True),
        add_vision_id=options.get("add_vision_id", False))
    pads = [(c["type"], c.get("pad_tokens", 1)) for m in messages if not isinstance(m["content"], str)
            for c in m["content"] if c["type"] in ("image", "video")]
    out, rest = [], text
    for kind, n in pads:
        token = "<|image_pad|>" if kind == "image" else "<|video_pad|>"
        head, _, rest = rest.partition(token)
        out.append(head + token * n)
    return "".join(out) + rest


def chat_rows(tok):
    rows = []
    for request in CHAT_REQUESTS:
        text = render_chat(request)
        rows.append({"request": request, "text": text, "ids": tok.encode(text).ids})
    return rows


def make_gpt2_style(out_dir, corpus):
    """Trains a small GPT-2-shaped byte-level BPE and writes it with "a b" string merges."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus[:300], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.add_tokens([AddedToken("[MASK]", lstrip=True, rstrip=True, normalized=False),
                    AddedToken("word", single_word=True, normalized=False),
                    AddedToken("ＡＢ", normalized=True)])
    tok.add_special_tokens([AddedToken("<sep>", normalized=False)])
    data = json.loads(tok.to_str())
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    (out_dir / "gpt2_style").mkdir(parents=True, exist_ok=True)
    path = out_dir / "gpt2_style" / "tokenizer.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tok = Tokenizer.from_file(str(path))  # the goldens come from the file as written
    texts = corpus[:200] + ["a [MASK] b", "a[MASK]b", "x  [MASK]  y", "word words sword word.",
                            "AB ＡＢ ab <sep> x<sep>y", "ﬁve ① ＡＢＣ", " leading", ""]
    rows = []
    for text in texts:
        rows.append({"text": text, "ids": tok.encode(text, add_special_tokens=False).ids,
                     "ids_with_special": tok.encode(text, add_special_tokens=True).ids,
                     "decoded": tok.decode(tok.encode(text, add_special_tokens=False).ids,
                                           skip_special_tokens=False)})
    write_jsonl(out_dir / "gpt2_style.jsonl", rows)


SPLIT_TEXTS = ["Hello, world.  Two  spaces, and.. dots", " lead and trail ", ",,..,", "no delimiters",
               "a, b.c ,d", "", "  ", "x\ty\n\nz, end."]


def split_behavior_rows(gpt2_style_path):
    """Each HF Split behaviour (and invert) on the GPT-2-style vocab; the row carries the
    pre_tokenizer JSON so the C++ test can rebuild the same tokenizer."""
    base = json.loads(pathlib.Path(gpt2_style_path).read_text(encoding="utf-8"))
    rows = []
    patterns = [{"Regex": "\\s+|[,.]"}, {"String": ", "}]
    for pattern in patterns:
        for behavior in ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
            for invert in (False, True):
                pre = {"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
                data = dict(base, pre_tokenizer=pre)
                tok = Tokenizer.from_str(json.dumps(data))
                for text in SPLIT_TEXTS:
                    rows.append({"pre_tokenizer": pre, "text": text,
                                 "ids": tok.encode(text, add_special_tokens=False).ids})
    return rows


def model_option_rows(out_dir):
    """BPE model options on the GPT-2-style vocab: ignore_merges with whole words added to the
    vocab that merges cannot reach, and an unk_token with fuse_unk for bytes missing from it.
    Each variant is written to bpe_options/<name>.json."""
    base = json.loads((out_dir / "gpt2_style" / "tokenizer.json").read_text(encoding="utf-8"))
    size = len(base["model"]["vocab"]) + len(base["added_tokens"])
    extra = {"Ġzzzz": size + 10, "qqq": size + 11, "Ġhello": size + 12}
    missing = ["Ã", "¤", "½"]  # byte-level characters of bytes 0xC3, 0xA4, 0xBD
    variants = {
        "ignore_merges": {"ignore_merges": True, "vocab_add": extra},
        "unreachable_words": {"ignore_merges": False, "vocab_add": extra},
        "unk": {"unk_token": "<s>", "fuse_unk": False, "vocab_remove": missing},
        "fuse_unk": {"unk_token": "<s>", "fuse_unk": True, "vocab_remove": missing},
    }
    (out_dir / "bpe_options").mkdir(exist_ok=True)
    texts = ["zzzz qqq hello zzzzz qqqq", " zzzz", "hello, hello! Hello", "äöü ä ä", "中文 €", "plain text"]
    rows = []
    for name, variant in variants.items():
        data = json.loads(json.dumps(base))
        model = data["model"]
        for key in ("ignore_merges", "unk_token", "fuse_unk"):
            if key in variant:
                model[key] = variant[key]
        model["vocab"].update(variant.get("vocab_add", {}))
        for token in variant.get("vocab_remove", []):
            del model["vocab"][token]
        removed = set(variant.get("vocab_remove", []))
        model["merges"] = [m for m in model["merges"] if not (set(m.split(" ")) & removed)
                           and m.replace(" ", "") not in removed]
        path = out_dir / "bpe_options" / f"{name}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tok = Tokenizer.from_file(str(path))
        for text in texts:
            rows.append({"file": f"bpe_options/{name}.json", "text": text,
                         "ids": tok.encode(text, add_special_tokens=False).ids})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=str(ROOT.parent / "shared/models/qwen2-tokenizer/tokenizer.json"))
    parser.add_argument("--out", default=str(ROOT / "tests/data/tokenizer"))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer.from_file(args.tokenizer)
    rng = random.Random(7)

    corpus = corpus_rows(tok)
    write_jsonl(out / "qwen2_corpus.jsonl", corpus)
    write_jsonl(out / "qwen2_decode.jsonl", decode_rows(tok, rng))
    write_jsonl(out / "qwen2_chat.jsonl", chat_rows(tok))
    make_gpt2_style(out, [r["text"] for r in corpus])
    write_jsonl(out / "split_behaviors.jsonl", split_behavior_rows(out / "gpt2_style" / "tokenizer.json"))
    write_jsonl(out / "bpe_options.jsonl", model_option_rows(out))
    manifest = {
        "tokenizers_version": tokenizers.__version__,
        "jinja2_version": jinja2.__version__,
        "tokenizer_json_sha256": sha256(args.tokenizer),
        "tokenizer_json_bytes": pathlib.Path(args.tokenizer).stat().st_size,
        "corpus_texts": len(corpus),
        "corpus_bytes": sum(len(r["text"].encode()) for r in corpus),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
