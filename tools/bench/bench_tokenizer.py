"""Encode throughput of duogen's tokenizer vs HF `tokenizers`, one thread, same corpus, same run.

    .venv/bin/python tools/bench/bench_tokenizer.py [--tokenizer DIR] [--corpus FILE]
        [--passes N] [--bench build/bench_tokenizer]

The corpus defaults to the parity corpus (tests/data/tokenizer/qwen2_corpus.jsonl). HF encodes
each text with Tokenizer.encode (no batching) with its thread pool pinned to one thread; duogen
runs in the bench_tokenizer executable. Both report a cold pass (fresh tokenizer, empty word
cache) and the best of the warm passes; MB/s counts UTF-8 input bytes.
"""

import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

# Before importing tokenizers: its Rayon pool reads these at start-up.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def bench_hf(tokenizer_json, texts, passes):
    start = time.perf_counter()
    tok = Tokenizer.from_file(tokenizer_json)
    load_s = time.perf_counter() - start
    seconds, tokens = [], 0
    for _ in range(passes):
        tokens = 0
        start = time.perf_counter()
        for text in texts:
            tokens += len(tok.encode(text, add_special_tokens=False).ids)
        seconds.append(time.perf_counter() - start)
    nbytes = sum(len(t.encode()) for t in texts)
    warm = min(seconds[1:])
    return {"texts": len(texts), "bytes": nbytes, "tokens": tokens, "load_s": load_s,
            "cold_s": seconds[0], "warm_s": warm, "cold_mb_s": nbytes / 1e6 / seconds[0],
            "warm_mb_s": nbytes / 1e6 / warm}


def run_duogen(bench, tokenizer, corpus_path, passes):
    out = subprocess.run([bench, "--tokenizer", tokenizer, "--corpus", corpus_path,
                          "--passes", str(passes)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def report(name, texts, hf, duogen):
    assert duogen["tokens"] == hf["tokens"], "the two tokenizers produced different token counts"
    print(f"{name}: {hf['texts']} texts, {hf['bytes'] / 1e6:.3f} MB, {hf['tokens']} tokens")
    print(f"  {'':8}{'load s':>9}{'cold MB/s':>11}{'warm MB/s':>11}")
    for who, r in (("HF", hf), ("duogen", duogen)):
        print(f"  {who:8}{r['load_s']:9.3f}{r['cold_mb_s']:11.2f}{r['warm_mb_s']:11.2f}")
    print(f"  ratio duogen/HF: cold {duogen['cold_mb_s'] / hf['cold_mb_s']:.2f}x, "
          f"warm {duogen['warm_mb_s'] / hf['warm_mb_s']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=str(ROOT.parent / "shared/models/qwen2-tokenizer"))
    parser.add_argument("--corpus", default=str(ROOT / "tests/data/tokenizer/qwen2_corpus.jsonl"))
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--bench", default=str(ROOT / "build/bench_tokenizer"))
    args = parser.parse_args()

    texts = [json.loads(line)["text"] for line in open(args.corpus, encoding="utf-8") if line.strip()]
    # The full corpus includes adversarial long inputs (5000 x "a", 3000 spaces) on which HF's
    # regex engine and BPE are far slower than on prose, so the texts under 1 KB are also
    # measured on their own as the "ordinary text" figure.
    short = [t for t in texts if len(t.encode()) < 1024]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        for t in short:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        short_path = f.name
    tokenizer_json = str(pathlib.Path(args.tokenizer) / "tokenizer.json")
    try:
        for name, subset, path in (("full corpus", texts, args.corpus), ("texts < 1 KB", short, short_path)):
            hf = bench_hf(tokenizer_json, subset, args.passes)
            duogen = run_duogen(args.bench, args.tokenizer, path, args.passes)
            report(name, subset, hf, duogen)
    finally:
        os.unlink(short_path)
    print("one thread each; cold = first pass on a fresh tokenizer, warm = best later pass")


if __name__ == "__main__":
    main()
