#!/usr/bin/env python3
"""Builds the tiny Wan2.1 VAE test checkpoint in the ORIGINAL Wan layout, the way a real one
reaches duogen: a random diffusers `AutoencoderKLWan` (the real topology: dim_mult [1, 2, 4, 4],
2 residual blocks, temporal downsampling [False, True, True], z_dim 16; only base_dim shrunk to 4)
is renamed to the original layout, saved as a .pth, and converted by
tools/convert/wan_vae_pth_to_safetensors.py.

    .venv/bin/python tools/reference/make_tiny_wan_vae.py OUT_DIR NAME_MAP.json

The renaming is checked against diffusers' own `convert_wan_vae_to_diffusers` (it must give back
the diffusers state dict exactly); NAME_MAP.json records that converter's original -> diffusers
name pairs, which the C++ tests use to check duogen's layout mapping and to build a
diffusers-layout copy of the checkpoint. Weights are rounded to bf16 and stored as bf16 (half the
bytes; the fp32 reference runs on exactly those values).
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import torch
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

TINY = dict(base_dim=4, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
            temperal_downsample=[False, True, True], dropout=0.0)
RESIDUAL = {"norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3",
            "conv2": "residual.6", "conv_shortcut": "shortcut"}


def to_original(name: str, res: int) -> str:
    """diffusers -> original Wan name (independent of duogen's C++ map; checked below)."""
    p = name.split(".")
    if p[0] in ("quant_conv", "post_quant_conv"):
        return {"quant_conv": "conv1", "post_quant_conv": "conv2"}[p[0]] + "." + p[1]
    side, rest = p[0], p[1:]
    head = {"conv_in": "conv1", "norm_out": "head.0", "conv_out": "head.2"}
    if rest[0] in head:
        return f"{side}.{head[rest[0]]}.{'.'.join(rest[1:])}"
    if rest[0] == "mid_block":
        kind, idx, tail = rest[1], int(rest[2]), rest[3:]
        if kind == "attentions":
            return f"{side}.middle.1.{'.'.join(tail)}"
        return f"{side}.middle.{2 * idx}.{RESIDUAL[tail[0]]}.{tail[1]}"
    if rest[0] == "down_blocks":
        idx, tail = int(rest[1]), rest[2:]
        tail = [RESIDUAL.get(tail[0], tail[0])] + tail[1:]
        return f"{side}.downsamples.{idx}.{'.'.join(tail)}"
    if rest[0] == "up_blocks":
        stage = int(rest[1])
        if rest[2] == "upsamplers":
            return f"{side}.upsamples.{stage * (res + 2) + res + 1}.{'.'.join(rest[4:])}"
        idx, tail = stage * (res + 2) + int(rest[3]), rest[4:]
        return f"{side}.upsamples.{idx}.{RESIDUAL[tail[0]]}.{tail[1]}"
    raise ValueError(f"unmapped diffusers name {name}")


def main() -> None:
    out, name_map_path = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    torch.manual_seed(0)
    model = AutoencoderKLWan(**TINY).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):  # non-trivial norm scales (diffusers initialises ones)
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    diffusers_sd = model.state_dict()
    original_sd = {to_original(k, TINY["num_res_blocks"]): v.to(torch.bfloat16)
                   for k, v in diffusers_sd.items()}
    back = convert_wan_vae_to_diffusers(original_sd)
    assert set(back) == set(diffusers_sd), sorted(set(back) ^ set(diffusers_sd))[:10]
    for k, v in back.items():
        assert torch.equal(v.float(), diffusers_sd[k]), k

    with tempfile.TemporaryDirectory() as tmp:
        pth = pathlib.Path(tmp) / "Wan2.1_VAE.pth"
        torch.save(original_sd, pth)
        converter = pathlib.Path(__file__).resolve().parents[1] / "convert/wan_vae_pth_to_safetensors.py"
        subprocess.run([sys.executable, str(converter), str(pth), str(out)], check=True)
    config = json.loads((out / "config.json").read_text())
    for key, value in TINY.items():  # the converter must read the sizes back off the tensors
        assert config[key] == value, (key, config[key], value)

    pairs = {k: next(d for d, t in convert_wan_vae_to_diffusers({k: v}).items()) for k, v in original_sd.items()}
    name_map_path.parent.mkdir(parents=True, exist_ok=True)
    name_map_path.write_text(json.dumps(dict(sorted(pairs.items())), indent=1) + "\n")
    print(f"wrote {out} and {name_map_path} ({len(pairs)} names)")


if __name__ == "__main__":
    main()
