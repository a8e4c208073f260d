#!/usr/bin/env python3
"""Builds a tiny random Cosmos-Predict2.5 pipeline snapshot in the published diffusers layout:

    .venv/bin/python tools/reference/make_tiny_cosmos_snapshot.py --out tests/data/tiny-cosmos2_5

The directory is what `Cosmos2_5_PredictBasePipeline.save_pretrained` writes (and `from_pretrained`
reads), each component saved by its own library:

  model_index.json      _class_name Cosmos2_5_PredictBasePipeline; text_encoder [transformers,
                        Qwen2_5_VLForConditionalGeneration], tokenizer [transformers, Qwen2Tokenizer],
                        transformer [diffusers, CosmosTransformer3DModel], vae [diffusers,
                        AutoencoderKLWan], scheduler [diffusers, UniPCMultistepScheduler],
                        safety_checker [null, null]
  text_encoder/         config.json, generation_config.json, model.safetensors (fp32)
  tokenizer/            tokenizer.json, tokenizer_config.json, chat_template.jinja
  transformer/          config.json, diffusion_pytorch_model.safetensors (fp32)
  vae/                  config.json, diffusion_pytorch_model.safetensors (fp32)
  scheduler/            scheduler_config.json

The pipeline is saved the way diffusers' own converter does it (scripts/convert_cosmos_to_diffusers.py,
`save_pipeline_cosmos2_5_predict`, huggingface/diffusers @ 0a882300): the safety checker is passed
as `lambda *args, **kwargs: None`, which `save_pretrained` cannot save and so records as
[null, null]. Loading therefore needs `safety_checker=` (cosmos_guardrail is not installed here);
dump_cosmos_pipeline.py passes a stand-in.

Components (all deterministic: fixed seeds, no downloads):

tokenizer  A byte-level BPE trained with `tokenizers` on CORPUS below (the pipeline's system prompt,
    diffusers' DEFAULT_NEGATIVE_PROMPT, the prompts of dump_cosmos_pipeline.py, some English): 256
    byte symbols + merges = BPE_VOCAB entries, then the 14 Qwen2.5-VL special tokens as added special
    tokens in Qwen's order (<|endoftext|> first, as id 151643 is in Qwen), 500 ids in all. Structure
    as the real Qwen tokenizer.json (/work/shared/models/qwen2-tokenizer): normalizer NFC,
    pre_tokenizer Sequence[Split(Qwen2 regex, isolated), ByteLevel(no prefix space, no regex)],
    post_processor and decoder ByteLevel. Saved by transformers' Qwen2Tokenizer (transformers 5 has
    no separate fast class: `Qwen2TokenizerFast` is an alias of it, and AutoTokenizer resolves
    `qwen2_5_vl` / tokenizer_class "Qwen2Tokenizer" to it). pad_token <|endoftext|>, eos_token
    <|im_end|>, bos/unk none, model_max_length 131072, the Qwen2-VL chat template (add_vision_id,
    image/video content parts, default system turn "You are a helpful assistant.").
    padding_side "right", truncation_side "right" (the default), written explicitly:
      - transformers' Qwen2Tokenizer does not set a padding side, so it is PreTrainedTokenizerBase's
        class default "right" (tokenization_utils_base.py: padding_side = "right",
        truncation_side = "right"), and so is truncation.
      - Qwen/Qwen2.5-VL-7B-Instruct's tokenizer_config.json (the tokenizer diffusers' converter
        saves into the Cosmos-Predict2.5 snapshot: AutoTokenizer.from_pretrained(
        "Qwen/Qwen2.5-VL-7B-Instruct")) sets no padding_side as far as could be checked without
        network access to the hub, and users report its tokenizer/processor pads on the right by
        default (EvolvingLMMs-Lab/lmms-eval#830 "padding_side being right by default" for
        Qwen2_5_VL; QwenLM/Qwen3-VL#1787: the Qwen2-VL processor's default is 'right', left is only
        a README suggestion for batched generation). A copy in linkedin/Liger-Kernel's test fakes
        (test/resources/fake_configs/Qwen/Qwen2.5-VL-7B-Instruct) says "left", but it is an edited
        fake (different ids, model_max_length 32768), not the hub file.
    So the pipeline (which pads to max_length with padding="max_length" and passes NO attention
    mask to the text encoder) appends <|endoftext|> tokens after <|im_end|>\\n, and the text encoder
    runs causal attention over them: their hidden states are part of the embeddings.

text_encoder  Qwen2_5_VLForConditionalGeneration, fp32, seed 1234: text 2 layers, hidden 32, 4 heads
    (head_dim 8), 2 kv heads, intermediate 64, vocab 512 (500 rounded up to 64), M-RoPE sections
    [1, 1, 2] (sum = head_dim / 2), rope_theta 1e6, untied lm_head (tie_word_embeddings False, as
    Qwen2.5-VL-7B / Cosmos-Reason1-7B); a tiny vision tower (2 blocks, hidden 16, full attention in
    block 1, merger to 32). Token ids in the config are this tokenizer's (bos = pad =
    <|endoftext|>, eos = <|im_end|>, vision_start/end, image/video pad). Norm weights are randomised
    around 1 (they initialise to ones).

transformer  CosmosTransformer3DModel with the Cosmos-Predict2.5-2B structure of diffusers'
    converter (TRANSFORMER_CONFIGS["Cosmos-2.5-Predict-Base-2B"]): in 16 + 1 channels, out 16,
    patch (1, 2, 2), rope_scale (1, 3, 3), concat_padding_mask, no extra position embedding,
    use_crossattn_projection with crossattn_proj_in_channels = 2 text layers x 32 = 64 and
    encoder_hidden_states_channels = text_embed_dim = 24; tiny: 2 blocks, 2 heads of 16 (RoPE t/h/w
    8/4/4), adaLN-LoRA 8, mlp_ratio 4. fp32, seed 0; every weight redrawn as make_tiny_cosmos_dit.py
    does (diffusers zero-initialises some, which would make outputs trivial).

vae  AutoencoderKLWan, the real Wan2.1 topology (dim_mult [1, 2, 4, 4], 2 residual blocks, temporal
    downsampling [False, True, True], z_dim 16) with base_dim 3 (odd on purpose; 96 in the real
    one), diffusers' default (= the real Wan2.1) latents_mean / latents_std. fp32, seed 0; RMS-norm
    gammas and biases randomised as make_tiny_wan_vae.py does.

scheduler  UniPCMultistepScheduler(use_karras_sigmas=True, use_flow_sigmas=True,
    prediction_type="flow_prediction", sigma_max=200.0, sigma_min=0.01), everything else diffusers'
    default (solver_order 2, solver_type bh2, predict_x0, lower_order_final, flow_shift 1,
    final_sigmas_type zero, num_train_timesteps 1000, timestep_spacing linspace). Source:
    huggingface/diffusers scripts/convert_cosmos_to_diffusers.py, save_pipeline_cosmos2_5_predict
    (the same constructor call for Cosmos-Transfer2.5), the script that produced the published
    nvidia/Cosmos-Predict2.5-2B diffusers revisions.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil

import torch
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer

from diffusers import AutoencoderKLWan, CosmosTransformer3DModel, UniPCMultistepScheduler
from diffusers.pipelines.cosmos.pipeline_cosmos2_5_predict import DEFAULT_NEGATIVE_PROMPT, Cosmos2_5_PredictBasePipeline

SYSTEM_PROMPT = "You are a helpful assistant who will provide prompts to an image generator."
# The dump prompts (dump_cosmos_pipeline.py imports them from here, so the corpus covers them).
PROMPTS = {
    "t2i": "A red fox sitting in fresh snow at sunrise, soft golden light, 35mm photo.",
    "t2w": "A robot arm picks up a blue cube from the table and places it in a wooden box. "
           "The camera stays still.",
    "i2w": "The camera slowly pans right across a café terrace; people walk by and leaves fall.",
    "v2w": "A car drives down a wet city street at night, its headlights reflecting on the asphalt.\n"
           "Rain keeps falling, and the traffic lights turn green.",
}
NEGATIVE_T2W = "blurry, low quality, distorted faces, watermark, text, static image"
ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "A video of a busy street in the city, with cars, people and bicycles moving in the sunlight.",
    "The sun sets over the ocean and the waves roll slowly onto the sandy beach.",
    "A cat walks across the kitchen floor, jumps onto the table and looks out of the window.",
    "Two people are talking in a small room; the camera moves closer to their faces.",
    "It's a bright, clear day. They're walking in the park, and we'll see the trees in the wind.",
    "High quality, detailed, realistic lighting, smooth motion, sharp focus, natural colors.",
    "system", "user", "assistant", "You are a helpful assistant.",
]
CORPUS = [SYSTEM_PROMPT, DEFAULT_NEGATIVE_PROMPT, *PROMPTS.values(), NEGATIVE_T2W, *ENGLISH]

QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                  "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                  "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
BPE_VOCAB = 486  # + 14 special tokens = 500 ids
# The Qwen2-VL / Qwen2.5-VL chat template (tokenizer_config.json / chat_template.json of the releases).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TEXT_LAYERS, TEXT_HIDDEN = 2, 32
TRANSFORMER = dict(in_channels=16 + 1, out_channels=16, num_attention_heads=2, attention_head_dim=16,
                   num_layers=2, mlp_ratio=4.0, text_embed_dim=24, adaln_lora_dim=8, max_size=(128, 240, 240),
                   patch_size=(1, 2, 2), rope_scale=(1.0, 3.0, 3.0), concat_padding_mask=True,
                   extra_pos_embed_type=None, use_crossattn_projection=True,
                   crossattn_proj_in_channels=TEXT_LAYERS * TEXT_HIDDEN, encoder_hidden_states_channels=24)
VAE = dict(base_dim=3, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
           temperal_downsample=[False, True, True], dropout=0.0)
SCHEDULER = dict(use_karras_sigmas=True, use_flow_sigmas=True, prediction_type="flow_prediction",
                 sigma_max=200.0, sigma_min=0.01)


def make_tokenizer() -> Qwen2Tokenizer:
    bpe = Tokenizer(models.BPE(dropout=None, unk_token=None, continuing_subword_prefix="", end_of_word_suffix="",
                               fuse_unk=False, byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, min_frequency=1, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(CORPUS, trainer)
    assert bpe.get_vocab_size() == BPE_VOCAB, bpe.get_vocab_size()
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    # Qwen's decoder entry is ByteLevel with all three flags false; the Python `decoders.ByteLevel`
    # constructor ignores its arguments (they only matter to the pre-tokenizer), so set it in the JSON.
    spec = json.loads(bpe.to_str())
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    bpe = Tokenizer.from_str(json.dumps(spec))
    tok = Qwen2Tokenizer(
        tokenizer_object=bpe, unk_token=None, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|endoftext|>", "<|im_end|>")],
        errors="replace", model_max_length=131072, clean_up_tokenization_spaces=False, split_special_tokens=False,
        padding_side="right", truncation_side="right", chat_template=CHAT_TEMPLATE)
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.convert_tokens_to_ids(t) == BPE_VOCAB + i, t
    return tok


def make_text_encoder(tok: Qwen2Tokenizer) -> Qwen2_5_VLForConditionalGeneration:
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = (len(tok) + 63) // 64 * 64
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=vocab, hidden_size=TEXT_HIDDEN, intermediate_size=64,
                         num_hidden_layers=TEXT_LAYERS, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, rms_norm_eps=1e-6,
                         rope_parameters=dict(rope_type="default", rope_theta=1000000.0, mrope_section=[1, 1, 2]),
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False),
        vision_config=dict(depth=2, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=TEXT_HIDDEN,
                           fullatt_block_indexes=[1], window_size=112),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False)
    torch.manual_seed(1234)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    with torch.no_grad():  # norm weights initialise to ones; randomise so a mix-up shows in parity
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm" in name or "ln_q" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model.float()


def make_transformer() -> CosmosTransformer3DModel:
    torch.manual_seed(0)
    model = CosmosTransformer3DModel(**TRANSFORMER).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight") and p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))  # non-trivial RMSNorm scales
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            else:  # scale so activations stay O(1) through the tiny net
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)
    return model


def make_vae() -> AutoencoderKLWan:
    torch.manual_seed(0)
    model = AutoencoderKLWan(**VAE).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):  # non-trivial norm scales (diffusers initialises ones)
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
    return model


def check_chat_template(tok) -> None:
    """The call Cosmos2_5_PredictBasePipeline._get_prompt_embeds makes must work and pad/truncate."""
    conversations = [{"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
                     {"role": "user", "content": [{"type": "text", "text": PROMPTS["t2i"]}]}]
    for max_length in (16, 64, 512):
        out = tok.apply_chat_template(conversations, tokenize=True, add_generation_prompt=False,
                                      add_vision_id=False, max_length=max_length, truncation=True,
                                      padding="max_length")
        ids = out["input_ids"] if not isinstance(out, list) and "input_ids" in out else out
        assert len(ids) == max_length, (max_length, len(ids))
    text = tok.apply_chat_template(conversations, tokenize=False, add_generation_prompt=False)
    assert text == (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n{PROMPTS['t2i']}"
                    "<|im_end|>\n"), text
    plain = tok(text)["input_ids"]
    for max_length in (len(plain) + 20, len(plain) - 20):  # right padding with <|endoftext|>; right truncation
        ids = tok.apply_chat_template(conversations, tokenize=True, add_generation_prompt=False, add_vision_id=False,
                                      max_length=max_length, truncation=True, padding="max_length")["input_ids"]
        n = min(len(plain), max_length)
        assert ids[:n] == plain[:n] and set(ids[n:]) <= {tok.pad_token_id}, (max_length, ids)
    default = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert default.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"), default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()

    tok = make_tokenizer()
    pipe = Cosmos2_5_PredictBasePipeline(
        text_encoder=make_text_encoder(tok), tokenizer=tok, transformer=make_transformer(), vae=make_vae(),
        scheduler=UniPCMultistepScheduler(**SCHEDULER),
        safety_checker=lambda *args, **kwargs: None)  # as diffusers' converter: saved as [null, null]
    if args.out.exists():
        shutil.rmtree(args.out)
    pipe.save_pretrained(args.out, safe_serialization=True)

    saved = AutoTokenizer.from_pretrained(args.out / "tokenizer")
    assert type(saved) is Qwen2Tokenizer and saved.padding_side == "right" and saved.truncation_side == "right"
    check_chat_template(saved)  # on the reloaded copy: the checks leave padding state on the tokenizer
    index = json.loads((args.out / "model_index.json").read_text())
    assert index["safety_checker"] == [None, None], index
    assert index["tokenizer"] == ["transformers", "Qwen2Tokenizer"], index
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    for p in sorted(args.out.rglob("*")):
        if p.is_file():
            print(f"  {p.relative_to(args.out)}  {p.stat().st_size}")
    print(f"wrote {args.out} ({total} bytes; tokenizer {len(tok)} ids)")


if __name__ == "__main__":
    main()
