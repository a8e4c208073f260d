#!/usr/bin/env python3
"""Wan2.1 VAE CPU benchmark: duogen (build/tools/bench/bench_vae) against diffusers
AutoencoderKLWan in the same run, on the REAL config (base_dim 96, z_dim 16) with random weights.

    .venv/bin/python tools/bench/bench_vae.py [--model-dir /tmp/duogen-wan-vae-real] [--sizes 768x768,1280x704]

Each measurement is its own process (load, then one encode or one decode of a single random
image), so the reported peak resident memory (VmHWM, weights included) belongs to that call
alone. duogen runs untiled and tiled (diffusers' default tiles: 256 px, stride 192) at every size;
diffusers runs untiled at --diffusers-sizes (default the first size; --diffusers-tiled adds tiled).
"""
from __future__ import annotations

import argparse
import json
import resource
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def vm_hwm_mib() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return -1.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def diffusers_worker(model_dir: str, mode: str, height: int, width: int, tiling: bool) -> None:
    import torch
    from diffusers import AutoencoderKLWan

    model = AutoencoderKLWan.from_pretrained(model_dir).eval()
    if tiling:
        model.enable_tiling()
    torch.manual_seed(0)
    with torch.inference_mode():
        if mode == "encode":
            x = torch.rand(1, 3, 1, height, width) * 2 - 1
            cpu, start = cpu_seconds(), time.perf_counter()
            out = model.encode(x).latent_dist.mode()
        else:
            z = torch.randn(1, 16, 1, height // 8, width // 8)
            cpu, start = cpu_seconds(), time.perf_counter()
            out = model.decode(z).sample
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    print(json.dumps({"impl": "diffusers", "mode": mode, "height": height, "width": width,
                      "tiling": tiling, "threads": torch.get_num_threads(),
                      "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                      "peak_rss_mib": round(vm_hwm_mib()),
                      "out_mean_abs": float(out.abs().mean())}))


def ensure_model(model_dir: pathlib.Path) -> None:
    if (model_dir / "config.json").exists():
        return
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    AutoencoderKLWan().save_pretrained(model_dir)  # the real Wan2.1 config, random weights


def run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=pathlib.Path, default=pathlib.Path("/tmp/duogen-wan-vae-real"))
    parser.add_argument("--bench-binary", type=pathlib.Path, default=ROOT / "build/tools/bench/bench_vae")
    parser.add_argument("--sizes", default="768x768,1280x704", help="HxW list")
    parser.add_argument("--diffusers-sizes", default="768x768")
    parser.add_argument("--modes", default="encode,decode")
    parser.add_argument("--diffusers-tiled", action="store_true", help="also time diffusers tiled")
    parser.add_argument("--worker", nargs=5, metavar=("MODEL", "MODE", "H", "W", "TILING"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, mode, h, w, tiling = args.worker
        diffusers_worker(model, mode, int(h), int(w), tiling == "1")
        return
    ensure_model(args.model_dir)
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
    diffusers_sizes = [tuple(map(int, s.split("x"))) for s in args.diffusers_sizes.split(",") if s]
    modes = args.modes.split(",")
    # Most wanted first (the comparison at the first size), so a cut-short run still answers it.
    cases = [("duogen", m, sizes[0], False) for m in modes]
    cases += [("diffusers", m, hw, False) for hw in diffusers_sizes for m in modes]
    cases += [("duogen", m, sizes[0], True) for m in modes]
    cases += [("duogen", m, hw, tiled) for hw in sizes[1:] for tiled in (False, True) for m in modes]
    if args.diffusers_tiled:
        cases += [("diffusers", m, hw, True) for hw in diffusers_sizes for m in modes]
    results = []
    for impl, mode, (h, w), tiling in cases:
        if impl == "duogen":
            cmd = [str(args.bench_binary), str(args.model_dir), mode, str(h), str(w)]
            results.append(run(cmd + (["--tiling"] if tiling else [])))
        else:
            results.append(run([sys.executable, __file__, "--worker", str(args.model_dir), mode,
                                str(h), str(w), "1" if tiling else "0"]))
    print("\n| impl | mode | size | tiled | wall s | CPU s | peak RSS MiB |\n|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['impl']} | {r['mode']} | {r['height']}x{r['width']} | {r['tiling']} | "
              f"{r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['peak_rss_mib']} |")


if __name__ == "__main__":
    main()
