#!/usr/bin/env python3
"""Converts an original Cosmos-Predict2.5 DiT checkpoint (`*_ema_bf16.pt`, architecture.md §12.2)
to a checkpoint directory duogen reads:

    .venv/bin/python tools/convert/cosmos_dit_pt_to_safetensors.py MODEL.pt OUT_DIR [--dtype bfloat16]

OUT_DIR gets `model.safetensors` in the original Cosmos layout with the `net.` prefix stripped
(duogen recognises that layout from its names and maps it to diffusers' names, §12.3) and a
diffusers-style `config.json` (`CosmosTransformer3DModel`) whose sizes are read off the tensors.
Entries that are not parameters are dropped: `*._extra_state` (Transformer Engine),
`accum_*` training counters and the `pos_embedder.*` RoPE tables (duogen recomputes them).
What the tensors cannot tell is taken from options with the Cosmos-Predict2.5 values:
--patch-size 1,2,2, --rope-scale 1,3,3 (t, h, w), --max-size 128,240,240 (latent units); the
padding-mask channel is assumed (concat_padding_mask, as every Cosmos 2/2.5 network).
The file is read with `torch.load(weights_only=True)`, allowing only the `io.BytesIO` objects in
which Transformer Engine pickles `_extra_state` (tools/convert/torch_checkpoint.py): no code in it
runs; --trust-pickle lifts that for a trusted file that holds other objects. A state dict nested
under "model", "state_dict" or "ema" is unwrapped. config.json holds only keys diffusers'
CosmosTransformer3DModel accepts (checked); duogen's q/k RMSNorm epsilon defaults to the original
network's 1e-6 without a key. Both files are written atomically with the usual mode (0644).
"""
from __future__ import annotations

import argparse
import pathlib
import re

import torch

from torch_checkpoint import check_diffusers_config, load_checkpoint, write_checkpoint

IGNORED_SUFFIXES = ("_extra_state", "accum_video_sample_counter", "accum_image_sample_counter",
                    "accum_iteration", "accum_train_in_hours", "pos_embedder.seq",
                    "pos_embedder.dim_spatial_range", "pos_embedder.dim_temporal_range")


def unwrap(obj) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise SystemExit("error: the file does not hold a state dict")
    out, skipped = {}, []
    for name, value in obj.items():
        if name.endswith(IGNORED_SUFFIXES):
            continue
        if not isinstance(value, torch.Tensor):
            skipped.append(f"{name} ({type(value).__name__})")
            continue
        out[name.removeprefix("net.")] = value
    if skipped:
        print(f"skipped {len(skipped)} non-tensor entries: {', '.join(skipped[:5])}"
              f"{', ...' if len(skipped) > 5 else ''}")
    if "x_embedder.proj.1.weight" not in out:
        raise SystemExit("error: no 'net.x_embedder.proj.1.weight': not an original Cosmos DiT")
    return out


def triple(text: str, kind):
    values = [kind(v) for v in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated values, got {text!r}")
    return values


def infer_config(sd: dict[str, torch.Tensor], patch, rope_scale, max_size) -> dict:
    patch_volume = patch[0] * patch[1] * patch[2]
    hidden, patch_in = sd["x_embedder.proj.1.weight"].shape
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"blocks\.(\d+)\.", k))}
    if blocks != set(range(len(blocks))) or not blocks:
        raise SystemExit(f"error: block indices are not 0..N-1: {sorted(blocks)[:8]}")
    head_dim = sd["blocks.0.self_attn.q_norm.weight"].shape[0]
    out_features = sd["final_layer.linear.weight"].shape[0]
    if patch_in % patch_volume or out_features % patch_volume or hidden % head_dim:
        raise SystemExit("error: tensor shapes do not fit the patch size / head dim")
    config = {
        "_class_name": "CosmosTransformer3DModel",
        "in_channels": patch_in // patch_volume - 1,  # minus the padding-mask channel
        "out_channels": out_features // patch_volume,
        "num_attention_heads": hidden // head_dim,
        "attention_head_dim": head_dim,
        "num_layers": len(blocks),
        "mlp_ratio": sd["blocks.0.mlp.layer1.weight"].shape[0] / hidden,
        "text_embed_dim": sd["blocks.0.cross_attn.k_proj.weight"].shape[1],
        "adaln_lora_dim": sd["blocks.0.adaln_modulation_self_attn.1.weight"].shape[0],
        "max_size": max_size,
        "patch_size": patch,
        "rope_scale": rope_scale,
        "concat_padding_mask": True,
        "extra_pos_embed_type": None,
        "use_crossattn_projection": "crossattn_proj.0.weight" in sd,
    }
    if "crossattn_proj.0.weight" in sd:
        out_c, in_c = sd["crossattn_proj.0.weight"].shape
        config["crossattn_proj_in_channels"] = in_c
        config["encoder_hidden_states_channels"] = out_c
    return config


def convert(pt: pathlib.Path, out: pathlib.Path, dtype: str | None, patch, rope_scale,
            max_size, trust_pickle: bool = False) -> None:
    sd = unwrap(load_checkpoint(pt, trust_pickle))
    if dtype:
        sd = {k: v.to(getattr(torch, dtype)) if v.is_floating_point() else v for k, v in sd.items()}
    config = infer_config(sd, patch, rope_scale, max_size)
    check_diffusers_config("CosmosTransformer3DModel", config)
    write_checkpoint(out, sd, {"format": "pt"}, config)
    print(f"wrote {out} ({len(sd)} tensors, {config['num_layers']} blocks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pt", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--patch-size", type=lambda s: triple(s, int), default=[1, 2, 2])
    parser.add_argument("--rope-scale", type=lambda s: triple(s, float), default=[1.0, 3.0, 3.0])
    parser.add_argument("--max-size", type=lambda s: triple(s, int), default=[128, 240, 240])
    parser.add_argument("--trust-pickle", action="store_true",
                        help="torch.load with weights_only=False (only for a file you trust)")
    args = parser.parse_args()
    convert(args.pt, args.out, args.dtype, args.patch_size, args.rope_scale, args.max_size,
            args.trust_pickle)


if __name__ == "__main__":
    main()
