#!/usr/bin/env python3
"""A Cosmos-Predict2.5-2B snapshot at the published sizes with random bf16 weights, for memory
measurements of the real-size pipeline where the real weights cannot be downloaded:

    .venv/bin/python tools/bench/make_real_size_cosmos_snapshot.py OUT_DIR

Layout and names are the ones transformers / diffusers save (the models are built on the meta
device, so nothing of their size is allocated here): text_encoder/ is Qwen2.5-VL-7B-shaped as
Cosmos-Reason1-7B (untied lm_head, vision tower included, shards + index), transformer/ the 2B
DiT with its connector (100352 -> 1024), vae/ the Wan2.1 VAE, scheduler/ the published UniPC
config, tokenizer/ the real Qwen2 tokenizer (../shared/models/qwen2-tokenizer) with the tiny
snapshot's Qwen2.5-VL chat template. ~22 GB on disk.

Values: floating weights are drawn N(0, 0.02) from one 64 Mi-element pool at random offsets
(cheap to write; the numbers only have to be plausible for activations), RMSNorm/LayerNorm
weights 1, biases 0. Nothing here is a trained network: outputs are noise.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys

import safetensors.torch
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = ROOT / "tests/data/tiny-cosmos2_5"
TOKENIZER = ROOT.parent / "shared/models/qwen2-tokenizer"
SHARD_BYTES = 2 * 1024**3  # small shards keep this script under ~5 GB of RAM

# Cosmos-Reason1-7B = Qwen2.5-VL-7B shapes (architecture.md §4.1, §5.1).
TEXT = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
            num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=128000,
            rms_norm_eps=1e-6, rope_parameters=dict(rope_type="default", rope_theta=1000000.0,
                                                    mrope_section=[16, 24, 24]),
            tie_word_embeddings=False, hidden_act="silu")
VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, in_channels=3,
              out_hidden_size=3584, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
              window_size=112, fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2,
              hidden_act="silu")
# Cosmos-Predict2.5-2B in diffusers' form (architecture.md §8.1).
DIT = dict(in_channels=17, out_channels=16, num_attention_heads=16, attention_head_dim=128,
           num_layers=28, mlp_ratio=4.0, text_embed_dim=1024, adaln_lora_dim=256,
           max_size=(128, 240, 240), patch_size=(1, 2, 2), rope_scale=(1.0, 3.0, 3.0),
           concat_padding_mask=True, extra_pos_embed_type=None, use_crossattn_projection=True,
           crossattn_proj_in_channels=100352, encoder_hidden_states_channels=1024)
VAE = dict(base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
           temperal_downsample=[False, True, True], dropout=0.0)


class Filler:
    """Plausible values for a tensor of a given name and shape, from one shared random pool."""

    def __init__(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.pool = (torch.randn(64 * 1024 * 1024, generator=g) * 0.02).to(torch.bfloat16)
        self.g = g

    def __call__(self, name: str, t: torch.Tensor) -> torch.Tensor:
        shape = t.shape
        if not t.is_floating_point():
            return torch.zeros(shape, dtype=t.dtype)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "bias" or "latents_" in name:
            return torch.zeros(shape, dtype=torch.bfloat16)
        if "norm" in name and t.dim() == 1 or leaf == "gamma":
            return torch.ones(shape, dtype=torch.bfloat16)
        n = t.numel()
        out = torch.empty(n, dtype=torch.bfloat16)
        done = 0
        while done < n:
            start = int(torch.randint(0, self.pool.numel() // 2, (1,), generator=self.g))
            take = min(n - done, self.pool.numel() - start)
            out[done:done + take] = self.pool[start:start + take]
            done += take
        return out.view(shape)


def write_sharded(module: torch.nn.Module, out: pathlib.Path, stem: str, index_name: str,
                  fill: Filler) -> None:
    """The module's state dict as bf16 shards of at most SHARD_BYTES, with a weight_map index
    (transformers' / diffusers' names), written one shard at a time."""
    out.mkdir(parents=True, exist_ok=True)
    entries = list(module.state_dict().items())
    shards, current, size = [], [], 0
    for name, t in entries:
        nbytes = t.numel() * 2
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((name, t))
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        file = f"{stem}-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors = {name: fill(name, t).contiguous() for name, t in shard}
        total += sum(v.numel() * v.element_size() for v in tensors.values())
        safetensors.torch.save_file(tensors, str(out / file), metadata={"format": "pt"})
        os.chmod(out / file, 0o644)
        weight_map.update({name: file for name in tensors})
        print(f"  {out.name}/{file}: {len(tensors)} tensors", flush=True)
    (out / index_name).write_text(json.dumps({"metadata": {"total_size": total},
                                              "weight_map": weight_map}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    from diffusers import AutoencoderKLWan, CosmosTransformer3DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if not TOKENIZER.is_dir():
        sys.exit(f"error: {TOKENIZER}: the real Qwen2 tokenizer is not there")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fill = Filler()
    tok_cfg = json.loads((TINY / "tokenizer/tokenizer_config.json").read_text())
    real_cfg = json.loads((TOKENIZER / "tokenizer_config.json").read_text())
    ids = {}
    for key, entry in real_cfg.get("added_tokens_decoder", {}).items():
        ids[entry["content"]] = int(key)

    config = Qwen2_5_VLConfig(
        text_config=dict(TEXT, bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=VISION, image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)
    with torch.device("meta"):
        text_encoder = Qwen2_5_VLForConditionalGeneration(config)
        transformer = CosmosTransformer3DModel(**DIT)
        vae = AutoencoderKLWan(**VAE)

    print("text_encoder", flush=True)
    config.save_pretrained(out / "text_encoder")
    write_sharded(text_encoder, out / "text_encoder", "model", "model.safetensors.index.json", fill)
    print("transformer", flush=True)
    transformer.save_config(out / "transformer")
    write_sharded(transformer, out / "transformer", "diffusion_pytorch_model",
                  "diffusion_pytorch_model.safetensors.index.json", fill)
    print("vae", flush=True)
    vae.save_config(out / "vae")
    write_sharded(vae, out / "vae", "diffusion_pytorch_model",
                  "diffusion_pytorch_model.safetensors.index.json", fill)

    # The real vocabulary; the Qwen2.5-VL chat template and the pipeline tokenizer's settings
    # (pad <|endoftext|>, right padding and truncation) from the tiny snapshot.
    (out / "tokenizer").mkdir(exist_ok=True)
    shutil.copy(TOKENIZER / "tokenizer.json", out / "tokenizer/tokenizer.json")
    shutil.copy(TINY / "tokenizer/chat_template.jinja", out / "tokenizer/chat_template.jinja")
    real_cfg.pop("chat_template", None)
    for key in ("eos_token", "pad_token", "padding_side", "truncation_side", "tokenizer_class"):
        real_cfg[key] = tok_cfg[key]
    (out / "tokenizer/tokenizer_config.json").write_text(json.dumps(real_cfg, indent=2) + "\n")
    shutil.copytree(TINY / "scheduler", out / "scheduler", dirs_exist_ok=True)
    shutil.copy(TINY / "model_index.json", out / "model_index.json")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
