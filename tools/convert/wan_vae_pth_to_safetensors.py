#!/usr/bin/env python3
"""Converts a Wan2.1 VAE state dict in the original Wan layout (`Wan2.1_VAE.pth`, or the
`tokenizer.pth` shipped with Cosmos-Predict2.5) to a checkpoint directory duogen reads:

    .venv/bin/python tools/convert/wan_vae_pth_to_safetensors.py Wan2.1_VAE.pth OUT_DIR [--dtype bfloat16]

OUT_DIR gets `model.safetensors` (tensor names unchanged: duogen recognises the original layout)
and a diffusers-style `config.json` (`AutoencoderKLWan`) whose sizes are read off the tensors.
The file is read with `torch.load(weights_only=True)` (tools/convert/torch_checkpoint.py): no
code in it runs; --trust-pickle lifts that for a trusted file holding other objects. A state dict
nested under "state_dict"/"model" or with a common prefix ("vae.", "model.", "module.") is
unwrapped. config.json holds only keys diffusers' AutoencoderKLWan accepts (checked). Both files
are written atomically with the usual mode (0644).
"""
from __future__ import annotations

import argparse
import pathlib
import re

import torch

from torch_checkpoint import check_diffusers_config, load_checkpoint, write_checkpoint

# diffusers AutoencoderKLWan defaults = the Wan2.1 VAE's statistics (architecture.md §11.4).
LATENTS_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
LATENTS_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
               3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]


def unwrap(obj) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise SystemExit("error: the file does not hold a state dict")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    for prefix in ("vae.", "model.", "module."):
        if "encoder.conv1.weight" not in tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    if "encoder.conv1.weight" not in tensors:
        raise SystemExit("error: no 'encoder.conv1.weight': not a Wan2.1 VAE in the original layout")
    return tensors


def infer_config(sd: dict[str, torch.Tensor]) -> dict:
    def indices(prefix: str) -> set[int]:
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        return {int(m.group(1)) for k in sd if (m := pattern.match(k))}

    base_dim = sd["encoder.conv1.weight"].shape[0]
    z_dim = sd["conv2.weight"].shape[0]
    enc_blocks = len(indices("encoder.downsamples."))  # stages * (R + 1) - 1
    dec_blocks = len(indices("decoder.upsamples."))    # stages * (R + 2) - 1
    stages = dec_blocks - enc_blocks
    res = (enc_blocks + 1) // stages - 1
    dim_mult, temporal = [], []
    for s in range(stages):
        last_res = s * (res + 1) + res - 1
        dim_mult.append(sd[f"encoder.downsamples.{last_res}.residual.2.weight"].shape[0] // base_dim)
        if s + 1 < stages:
            temporal.append(f"encoder.downsamples.{last_res + 1}.time_conv.weight" in sd)
    return {
        "_class_name": "AutoencoderKLWan",
        "base_dim": base_dim,
        "z_dim": z_dim,
        "dim_mult": dim_mult,
        "num_res_blocks": res,
        "attn_scales": [],
        "temperal_downsample": temporal,
        "dropout": 0.0,
        "latents_mean": LATENTS_MEAN[:z_dim] if z_dim == 16 else [0.0] * z_dim,
        "latents_std": LATENTS_STD[:z_dim] if z_dim == 16 else [1.0] * z_dim,
    }


def convert(pth: pathlib.Path, out: pathlib.Path, dtype: str | None, trust_pickle: bool = False) -> None:
    sd = unwrap(load_checkpoint(pth, trust_pickle))
    if dtype:
        sd = {k: v.to(getattr(torch, dtype)) if v.is_floating_point() else v for k, v in sd.items()}
    config = infer_config(sd)
    check_diffusers_config("AutoencoderKLWan", config)
    tensors = dict(sorted(sd.items()))
    write_checkpoint(out, tensors, {"format": "pt", "layout": "wan-original"}, config)
    print(f"wrote {out} ({len(tensors)} tensors, base_dim {config['base_dim']}, z_dim {config['z_dim']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pth", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None,
                        help="cast floating-point tensors (default: keep)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="torch.load with weights_only=False (only for a file you trust)")
    args = parser.parse_args()
    convert(args.pth, args.out, args.dtype, args.trust_pickle)


if __name__ == "__main__":
    main()
