#!/usr/bin/env python3
"""Cosmos DiT CPU benchmark: one DiT step (one velocity call) with 0, 1 and 3 condition frames,
duogen (build/tools/bench/bench_dit, packed-frame path) against diffusers
CosmosTransformer3DModel (dense [1, 16, N + 1, h, w] form: all frames the same size, where the
two are the same computation) in the same run.

    .venv/bin/python tools/bench/bench_dit.py [--model-dir /tmp/duogen-cosmos-dit-small] [--size 768x768] [--conditions 0,1,3]

The model has the Cosmos-Predict2.5-2B structure (head dim 128, 3D RoPE with scale (1, 3, 3),
adaLN-LoRA 256, patch (1, 2, 2), 17 + 1 input channels, context 1024) at a small width so the
step fits a shared CPU: 4 heads (hidden 512), 4 blocks, connector input 4096; random weights.
Each measurement is its own process; the context (connector + per-block k/v in duogen) is
prepared outside the timed step in duogen and inside it in diffusers (diffusers has no cache;
context_seconds says how much that is).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = dict(in_channels=17, out_channels=16, num_attention_heads=4, attention_head_dim=128,
             num_layers=4, mlp_ratio=4.0, text_embed_dim=1024, adaln_lora_dim=256,
             max_size=(128, 240, 240), patch_size=(1, 2, 2), rope_scale=(1.0, 3.0, 3.0),
             concat_padding_mask=True, extra_pos_embed_type=None, use_crossattn_projection=True,
             crossattn_proj_in_channels=4096, encoder_hidden_states_channels=1024)


def vm_hwm_mib() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return -1.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def install_transforms_shim() -> None:
    """diffusers' Cosmos model resizes the padding mask with torchvision, which is not a
    dependency here; NEAREST resizing is torch's interpolate."""
    import torch
    import diffusers.models.transformers.transformer_cosmos as tc

    if not hasattr(tc, "transforms"):
        tc.transforms = types.SimpleNamespace(
            functional=types.SimpleNamespace(
                resize=lambda img, size, interpolation=None: torch.nn.functional.interpolate(img, size=size, mode="nearest")),
            InterpolationMode=types.SimpleNamespace(NEAREST="nearest"))


def diffusers_worker(model_dir: str, height: int, width: int, conditions: int, context_len: int) -> None:
    import torch
    from diffusers import CosmosTransformer3DModel

    install_transforms_shim()
    model = CosmosTransformer3DModel.from_pretrained(model_dir).eval()
    for name, module in model.named_modules():
        if name.endswith(("norm_q", "norm_k")):
            module.eps = 1e-6  # the original network's value, as duogen uses
    torch.manual_seed(0)
    frames = conditions + 1
    x = torch.randn(1, 16, frames, height // 8, width // 8)
    context = torch.randn(1, context_len, model.config.crossattn_proj_in_channels)
    cond = torch.zeros(1, 1, frames, height // 8, width // 8)
    cond[:, :, :conditions] = 1.0
    t = torch.full((1, 1, frames, 1, 1), 1e-4)
    t[:, :, -1] = 0.5
    pad = torch.zeros(1, 1, height, width)
    with torch.inference_mode():
        cpu, start = cpu_seconds(), time.perf_counter()
        out = model(x, t, context, condition_mask=cond, padding_mask=pad).sample[:, :, -1]
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    print(json.dumps({"impl": "diffusers", "height": height, "width": width, "conditions": conditions,
                      "tokens": frames * (height // 16) * (width // 16), "dtype": "float32",
                      "threads": torch.get_num_threads(), "seconds": round(seconds, 3),
                      "cpu_seconds": round(cpu, 3), "peak_rss_mib": round(vm_hwm_mib()),
                      "out_mean_abs": float(out.abs().mean())}))


def ensure_model(model_dir: pathlib.Path) -> None:
    if (model_dir / "config.json").exists():
        return
    import torch
    from diffusers import CosmosTransformer3DModel

    torch.manual_seed(0)
    CosmosTransformer3DModel(**SMALL).save_pretrained(model_dir)


def run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=pathlib.Path, default=pathlib.Path("/tmp/duogen-cosmos-dit-small"))
    parser.add_argument("--bench-binary", type=pathlib.Path, default=ROOT / "build/tools/bench/bench_dit")
    parser.add_argument("--size", default="768x768", help="HxW in pixels")
    parser.add_argument("--conditions", default="0,1,3")
    parser.add_argument("--context", type=int, default=64, help="context tokens")
    parser.add_argument("--worker", nargs=5, metavar=("MODEL", "H", "W", "N", "L"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, h, w, n, length = args.worker
        diffusers_worker(model, int(h), int(w), int(n), int(length))
        return
    ensure_model(args.model_dir)
    h, w = map(int, args.size.split("x"))
    results = []
    for n in map(int, args.conditions.split(",")):
        results.append(run([str(args.bench_binary), str(args.model_dir), str(h), str(w), str(n),
                            "--context", str(args.context)]))
        results.append(run([sys.executable, __file__, "--worker", str(args.model_dir), str(h), str(w),
                            str(n), str(args.context)]))
    print("\n| impl | conditions | tokens | wall s | CPU s | peak RSS MiB | mean abs v |\n|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['impl']} | {r['conditions']} | {r['tokens']} | {r['seconds']:.2f} | "
              f"{r['cpu_seconds']:.2f} | {r['peak_rss_mib']} | {r['out_mean_abs']:.4f} |")


if __name__ == "__main__":
    main()
