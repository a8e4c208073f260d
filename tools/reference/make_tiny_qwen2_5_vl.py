#!/usr/bin/env python3
"""Writes a tiny Qwen2.5-VL checkpoint with random weights, saved by transformers itself.

The topology is the real one (vision tower with window + full-attention blocks, merger, GQA text
decoder with M-RoPE); only the sizes are small. Saved sharded (model.safetensors.index.json) so
the sharded loading path is exercised too.

    .venv/bin/python tools/reference/make_tiny_qwen2_5_vl.py tests/data/tiny-qwen2_5_vl
    .venv/bin/python tools/reference/make_tiny_qwen2_5_vl.py tests/data/tiny-qwen2_5_vl-tied \
        --tie-word-embeddings --storage-dtype bfloat16 --single-file

--tie-word-embeddings ties lm_head to embed_tokens (as the 3B release does; no lm_head.weight
is saved); --storage-dtype bfloat16 stores the weights as the hub releases do.
"""
import argparse
import pathlib

import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

TINY_CONFIG = dict(
    text_config=dict(
        vocab_size=1024,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,  # head_dim 16
        num_key_value_heads=2,  # GQA group 2
        max_position_embeddings=4096,
        rms_norm_eps=1e-6,
        rope_parameters=dict(rope_type="default", rope_theta=1000000.0, mrope_section=[2, 3, 3]),
        bos_token_id=1000,
        eos_token_id=1001,
    ),
    vision_config=dict(
        depth=2,
        hidden_size=32,
        intermediate_size=64,
        num_heads=2,
        out_hidden_size=64,
        fullatt_block_indexes=[1],
        window_size=112,
    ),
    image_token_id=1010,
    video_token_id=1011,
    vision_start_token_id=1012,
    vision_end_token_id=1013,
    tie_word_embeddings=False,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--tie-word-embeddings", action="store_true")
    parser.add_argument("--storage-dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--single-file", action="store_true", help="one model.safetensors")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    config = Qwen2_5_VLConfig(**{**TINY_CONFIG, "tie_word_embeddings": args.tie_word_embeddings})
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    # Norm weights initialise to ones; randomise them so that a mix-up is visible in parity.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm" in name or "ln_q" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    model = model.to(getattr(torch, args.storage_dtype))
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, max_shard_size="100MB" if args.single_file else "200KB",
                          safe_serialization=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
