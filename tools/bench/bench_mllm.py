#!/usr/bin/env python3
"""Qwen2.5-VL language-model CPU benchmark: duogen (build/tools/bench/bench_mllm) against
transformers Qwen2_5_VLForConditionalGeneration in the same run, on a small random-weight config
(Qwen2-0.5B-like text sizes: hidden 896, 12 layers (half of its 24), 14 heads / 2 KV heads, MLP 4864, vocab 151936;
a 1-block vision tower that is not run).

    .venv/bin/python tools/bench/bench_mllm.py [--model-dir /tmp/duogen-qwen2_5_vl-small] \\
        [--prompt-tokens 256] [--decode-tokens 32] [--dtypes f32,bf16]

Each measurement is its own process: load, prefill PROMPT_TOKENS random text ids (one forward,
KV cache on), then DECODE_TOKENS greedy single-token steps with the cache. Prints one JSON line
per run and a table of tokens/s.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = dict(
    text_config=dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=12,
                     num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                     rms_norm_eps=1e-6,
                     rope_parameters=dict(rope_type="default", rope_theta=1000000.0, mrope_section=[8, 12, 12])),  # head_dim 64
    vision_config=dict(depth=1, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=896,
                       fullatt_block_indexes=[0]),
    tie_word_embeddings=True,
)


def ensure_model(model_dir: pathlib.Path) -> None:
    if (model_dir / "config.json").exists():
        return
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(**SMALL)).save_pretrained(model_dir)


def transformers_worker(model_dir: str, prompt_tokens: int, decode_tokens: int, dtype: str) -> None:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch_dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch_dtype).eval()
    torch.manual_seed(0)
    text_vocab = min(model.config.text_config.vocab_size, model.config.vision_start_token_id)
    ids = torch.randint(text_vocab, (1, prompt_tokens))
    with torch.inference_mode():
        start = time.perf_counter()
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        prefill = time.perf_counter() - start
        past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        start = time.perf_counter()
        for _ in range(decode_tokens):
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        decode = time.perf_counter() - start
    print(json.dumps({"impl": "transformers", "dtype": dtype, "threads": torch.get_num_threads(),
                      "prompt_tokens": prompt_tokens, "decode_tokens": decode_tokens,
                      "prefill_seconds": round(prefill, 3), "prefill_tok_s": round(prompt_tokens / prefill, 1),
                      "decode_seconds": round(decode, 3), "decode_tok_s": round(decode_tokens / decode, 2)}))


def warm_page_cache(model_dir: pathlib.Path) -> None:
    """duogen maps the safetensors and faults pages in during its first forward, transformers reads
    them while loading; on a cold page cache the first would charge disk reads to prefill. Reading
    the files once first puts both on a warm cache."""
    for path in sorted(model_dir.iterdir()):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=pathlib.Path, default=pathlib.Path("/tmp/duogen-qwen2_5_vl-small"))
    parser.add_argument("--bench-binary", type=pathlib.Path, default=ROOT / "build/tools/bench/bench_mllm")
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--decode-tokens", type=int, default=32)
    parser.add_argument("--dtypes", default="f32,bf16")
    parser.add_argument("--worker", nargs=4, metavar=("MODEL", "PROMPT", "DECODE", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, prompt, decode, dtype = args.worker
        transformers_worker(model, int(prompt), int(decode), dtype)
        return
    ensure_model(args.model_dir)
    warm_page_cache(args.model_dir)
    results = []
    for dtype in args.dtypes.split(","):
        n = [str(args.prompt_tokens), str(args.decode_tokens)]
        results.append(run([str(args.bench_binary), str(args.model_dir), *n, "--dtype", dtype]))
        results.append(run([sys.executable, __file__, "--worker", str(args.model_dir), *n, dtype]))
    print("\n| impl | dtype | prefill tok/s | decode tok/s |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['impl']} | {r['dtype']} | {r['prefill_tok_s']} | {r['decode_tok_s']} |")


if __name__ == "__main__":
    main()
