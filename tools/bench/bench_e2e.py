#!/usr/bin/env python3
"""End-to-end speed of duogen against transformers / diffusers on one device (issue #10, part 5).

    .venv/bin/python tools/bench/bench_e2e.py --preset real --device cuda            # on a GPU
    .venv/bin/python tools/bench/bench_e2e.py --preset small --device cpu            # a few minutes

Writes random-weight models at the preset's sizes into --models-dir (once; reused afterwards):
mllm/config.json only (both sides build the Qwen2.5-VL weights randomly in memory, on the
device), dit/ and vae/ as diffusers checkpoints. Then runs build/tools/bench/bench_e2e and the
same measurements with transformers (Qwen2_5_VLForConditionalGeneration: prefill, decode, vision
tower) and diffusers (CosmosTransformer3DModel: one step and a whole image with the Cosmos 2.5
pipeline's UniPC + CFG loop, both branches per step; AutoencoderKLWan decode), each in its own
process, on the same device and dtype, and prints a markdown table with duogen's speed-up per row
(> 1: duogen is faster) and the peak memory of each side.

Presets: `real` = Qwen2.5-VL-7B, Cosmos-Predict2.5-2B and Wan2.1 shapes (architecture.md §4.1,
§5.1, §8.1, §11.1); `small` = the small widths of bench_mllm.py / bench_dit.py and a narrow VAE,
with a short image (128x128, 2 steps), for a CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_dit  # noqa: E402  (SMALL DiT config, the diffusers Cosmos shim)
import bench_mllm  # noqa: E402  (SMALL Qwen2.5-VL config)
import bench_vae  # noqa: E402  (VmHWM reader)

QWEN_7B = dict(
    text_config=dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                     num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=128000,
                     rms_norm_eps=1e-6,
                     rope_parameters=dict(rope_type="default", rope_theta=1000000.0, mrope_section=[16, 24, 24])),
    vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                       fullatt_block_indexes=[7, 15, 23, 31], window_size=112, patch_size=14,
                       spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2),
    tie_word_embeddings=False,
)
COSMOS_2B = dict(bench_dit.SMALL, num_attention_heads=16, num_layers=28, crossattn_proj_in_channels=28 * 3584)
SMALL_MLLM = bench_mllm.SMALL
SMALL_LAYERS = SMALL_MLLM["text_config"]["num_hidden_layers"] * SMALL_MLLM["text_config"]["hidden_size"]
PRESETS = {
    "real": dict(mllm=QWEN_7B, dit=COSMOS_2B, vae={}, save_dtype="bf16",
                 run=dict(prompt_tokens=512, decode_tokens=64, vit_size="1920x1080", size="768x768", steps=35,
                          context_tokens=256, repeats=5, warmup=2)),
    # The connector reads all 12 MLLM layers, as the real one reads all 28.
    "small": dict(mllm=SMALL_MLLM, dit=dict(bench_dit.SMALL, crossattn_proj_in_channels=SMALL_LAYERS),
                  vae=dict(base_dim=16), save_dtype="fp32",
                  run=dict(prompt_tokens=64, decode_tokens=8, vit_size="448x448", size="128x128", steps=2,
                           context_tokens=32, repeats=2, warmup=1)),
}
UNITS = {"prefill": "tokens/s", "decode": "ms/token", "vit": "ms", "dit_step": "ms", "image": "ms",
         "vae_decode": "ms"}


def torch_dtype(name: str):
    import torch
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def ensure_models(models: pathlib.Path, preset: dict) -> None:
    import torch
    if not (models / "mllm" / "config.json").exists():
        from transformers import Qwen2_5_VLConfig
        Qwen2_5_VLConfig(**preset["mllm"]).save_pretrained(models / "mllm")
    if not (models / "dit" / "config.json").exists():
        from diffusers import CosmosTransformer3DModel
        torch.manual_seed(0)
        CosmosTransformer3DModel(**preset["dit"]).to(torch_dtype(preset["save_dtype"])).save_pretrained(models / "dit")
    if not (models / "vae" / "config.json").exists():
        from diffusers import AutoencoderKLWan
        torch.manual_seed(0)
        AutoencoderKLWan(**preset["vae"]).save_pretrained(models / "vae")


class Meter:
    """Warm-up, then the median of timed repeats with the device synchronised around each, and
    the peak memory of the repeats (CUDA allocator peak, or VmHWM reset through clear_refs)."""

    def __init__(self, device: str, dtype: str, repeats: int, warmup: int):
        import torch
        self.torch, self.device, self.dtype, self.repeats, self.warmup = torch, torch.device(device), dtype, repeats, warmup
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)

    def sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def timed(self, region) -> float:
        self.sync()
        start = time.perf_counter()
        region()
        self.sync()
        return time.perf_counter() - start

    def measure(self, name: str, params: dict, body, to_value) -> None:
        for _ in range(self.warmup):
            body()
        if self.device.type == "cuda":
            self.torch.cuda.reset_peak_memory_stats(self.device)
        else:
            pathlib.Path("/proc/self/clear_refs").write_text("5")
        seconds = [body() for _ in range(self.repeats)]
        peak = (self.torch.cuda.max_memory_allocated(self.device) / 2**20 if self.device.type == "cuda"
                else bench_vae.vm_hwm_mib())
        print(json.dumps({"impl": "reference", "name": name, "unit": UNITS[name],
                          "value": to_value(statistics.median(seconds)), "seconds": seconds,
                          "peak_mib": round(peak), "device": str(self.device), "dtype": self.dtype,
                          "threads": self.torch.get_num_threads(), **params}), flush=True)


def smart_resize_grid(width: int, height: int, patch: int, merge: int) -> tuple[int, int]:
    factor = patch * merge
    return (max(factor, round(height / factor) * factor) // patch, max(factor, round(width / factor) * factor) // patch)


def transformers_worker(models: pathlib.Path, a: argparse.Namespace) -> None:
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    m = Meter(a.device, a.dtype, a.repeats, a.warmup)
    config = Qwen2_5_VLConfig.from_pretrained(models / "mllm")
    with torch.device(m.device):  # random init straight on the device, as bench_e2e does
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch_dtype(a.dtype)).eval()
    torch.manual_seed(0)
    text_vocab = min(config.text_config.vocab_size, config.vision_start_token_id)
    ids = torch.randint(text_vocab, (1, a.prompt_tokens)).to(m.device)
    params = {"prompt_tokens": a.prompt_tokens, "decode_tokens": a.decode_tokens}
    with torch.inference_mode():
        m.measure("prefill", params,
                  lambda: m.timed(lambda: model(input_ids=ids, use_cache=True, logits_to_keep=1)),
                  lambda s: a.prompt_tokens / s)

        def decode() -> float:
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)

            def steps():
                past, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                for _ in range(a.decode_tokens):
                    token.item()  # the stop check of a generation loop, as duogen's loop does
                    step = model(input_ids=token, past_key_values=past, use_cache=True)
                    past, token = step.past_key_values, step.logits[:, -1].argmax(-1, keepdim=True)
            return m.timed(steps)
        m.measure("decode", params, decode, lambda s: 1000 * s / a.decode_tokens)

        vc = config.vision_config
        w, h = map(int, a.vit_size.split("x"))
        gh, gw = smart_resize_grid(w, h, vc.patch_size, vc.spatial_merge_size)
        pixels = torch.randn(gh * gw, vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2,
                             device=m.device).to(torch_dtype(a.dtype))
        grid = torch.tensor([[1, gh, gw]], device=m.device)
        visual = model.model.visual
        m.measure("vit", {"width": w, "height": h, "patches": gh * gw},
                  lambda: m.timed(lambda: visual(pixels, grid_thw=grid)), lambda s: 1000 * s)


def diffusers_worker(models: pathlib.Path, a: argparse.Namespace) -> None:
    import torch
    from diffusers import AutoencoderKLWan, CosmosTransformer3DModel, UniPCMultistepScheduler

    bench_dit.install_transforms_shim()
    m = Meter(a.device, a.dtype, a.repeats, a.warmup)
    dt = torch_dtype(a.dtype)
    dit = CosmosTransformer3DModel.from_pretrained(models / "dit", torch_dtype=dt).to(m.device).eval()
    vae = AutoencoderKLWan.from_pretrained(models / "vae", torch_dtype=dt).to(m.device).eval()
    w, h = map(int, a.size.split("x"))
    torch.manual_seed(0)
    # diffusers takes the connector input [1, L, layers x hidden] (the layers already normalised).
    context = torch.randn(1, a.context_tokens, dit.config.crossattn_proj_in_channels, device=m.device, dtype=dt)
    negative = context[:, : max(1, a.context_tokens // 2)]
    mean = torch.tensor(vae.config.latents_mean, device=m.device).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=m.device).view(1, -1, 1, 1, 1)
    with torch.inference_mode():
        for n in map(int, a.conditions.split(",")):
            frames = n + 1
            params = {"width": w, "height": h, "conditions": n}
            x = torch.randn(1, 16, frames, h // 8, w // 8, device=m.device, dtype=dt)
            cond = torch.zeros(1, 1, frames, h // 8, w // 8, device=m.device, dtype=dt)
            cond[:, :, :n] = 1
            t = torch.full((1, 1, frames, 1, 1), 0.5, device=m.device)
            t[:, :, :n] = 0
            pad = torch.zeros(1, 1, h, w, device=m.device, dtype=dt)
            m.measure("dit_step", params,
                      lambda: m.timed(lambda: dit(x, t, context, condition_mask=cond, padding_mask=pad)),
                      lambda s: 1000 * s)

            # Condition frames encoded once per conversation (outside the timed image, as duogen
            # caches them), then the Cosmos 2.5 pipeline's loop: UniPC, both CFG branches per step.
            images = torch.rand(n, 3, 1, h, w, device=m.device, dtype=dt) * 2 - 1
            cond_latents = [((vae.encode(images[i:i + 1]).latent_dist.mode().float() - mean) / std) for i in range(n)]

            def image() -> float:
                def run():
                    scheduler = UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction",
                                                        flow_shift=5.0)
                    scheduler.set_timesteps(a.steps, device=m.device)
                    condf = cond.float()
                    ind = condf[:, :, :, :1, :1]
                    latents = torch.randn(1, 16, frames, h // 8, w // 8, device=m.device)
                    cond_latent = torch.cat(cond_latents + [torch.zeros_like(latents[:, :, :1])], 2)
                    gt_velocity = (latents - cond_latent) * condf
                    for i, step in enumerate(scheduler.timesteps):
                        in_t = ind * 1e-4 + (1 - ind) * scheduler.sigmas[i].to(m.device, torch.float32)
                        in_latents = (condf * cond_latent + (1 - condf) * latents).to(dt)
                        branches = []
                        for ctx in (context, negative):
                            v = dit(hidden_states=in_latents, timestep=in_t, encoder_hidden_states=ctx,
                                    condition_mask=cond, padding_mask=pad, return_dict=False)[0]
                            branches.append(gt_velocity + v.float() * (1 - condf))
                        v = branches[0] + a.guidance * (branches[0] - branches[1])
                        latents = scheduler.step(v, step, latents, return_dict=False)[0]
                    vae.decode((latents[:, :, -1:] * std + mean).to(dt)).sample
                return m.timed(run)
            m.measure("image", {**params, "steps": a.steps, "guidance": a.guidance}, image, lambda s: 1000 * s)

        z = torch.randn(1, 16, 1, h // 8, w // 8, device=m.device, dtype=dt)
        m.measure("vae_decode", {"width": w, "height": h}, lambda: m.timed(lambda: vae.decode(z).sample),
                  lambda s: 1000 * s)


def run_lines(cmd: list[str]) -> list[dict]:
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for r in results:
        print(json.dumps(r), flush=True)
    return results


def row_key(r: dict) -> tuple:
    return (r["name"], r.get("conditions", ""))


def table(duogen: list[dict], reference: list[dict], impl_names: dict) -> str:
    ref = {row_key(r): r for r in reference}
    lines = ["| measurement | duogen | reference | duogen speed-up | peak MiB duogen / ref |",
             "|---|---|---|---|---|"]
    for r in duogen:
        label = r["name"] + (f" ({r['conditions']} prior)" if "conditions" in r else "")
        if r["name"] in ("dit_step", "image", "vae_decode"):
            label += f" {r['width']}x{r['height']}"
        if r["name"] == "vit":
            label += f" {r['width']}x{r['height']}"
        o = ref.get(row_key(r))
        higher_better = r["unit"].endswith("/s")
        speedup = ""
        if o:
            speedup = f"{(r['value'] / o['value']) if higher_better else (o['value'] / r['value']):.2f}x"
        lines.append(f"| {label} [{r['unit']}] | {r['value']:.1f} | "
                     f"{o['value']:.1f} ({impl_names[r['name']]}) | {speedup} | "
                     f"{r['peak_mib']:.0f} / {o['peak_mib']:.0f} |" if o else
                     f"| {label} [{r['unit']}] | {r['value']:.1f} | - | - | {r['peak_mib']:.0f} / - |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="real")
    parser.add_argument("--models-dir", type=pathlib.Path, help="default /tmp/duogen-e2e-<preset>")
    parser.add_argument("--bench-binary", type=pathlib.Path, default=ROOT / "build/tools/bench/bench_e2e")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], help="default bf16 on cuda, fp32 on cpu")
    parser.add_argument("--conditions", default="0,1,3")
    parser.add_argument("--guidance", type=float, default=7.0)
    for key, value in PRESETS["real"]["run"].items():  # defaults from the preset
        parser.add_argument("--" + key.replace("_", "-"), type=type(value))
    parser.add_argument("--threads", type=int,
                        help="CPU threads of both sides (OMP_NUM_THREADS); 1 gives steady numbers on a busy machine")
    parser.add_argument("--skip-reference", action="store_true", help="duogen only")
    parser.add_argument("--attention-table", type=pathlib.Path,
                        help="duogen side: a measured table from bench_kernels --table-out")
    parser.add_argument("--worker", choices=["transformers", "diffusers"], help=argparse.SUPPRESS)
    a = parser.parse_args()
    preset = PRESETS[a.preset]
    for key, value in preset["run"].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    a.dtype = a.dtype or ("fp32" if a.device == "cpu" else "bf16")
    models = a.models_dir or pathlib.Path(f"/tmp/duogen-e2e-{a.preset}")
    if a.worker == "transformers":
        return transformers_worker(models, a)
    if a.worker == "diffusers":
        return diffusers_worker(models, a)

    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)  # read by libtorch in both processes
    ensure_models(models, preset)
    load = os.getloadavg()
    common = ["--device", a.device, "--dtype", a.dtype, "--conditions", a.conditions,
              "--guidance", str(a.guidance)] + [
        f"--{k.replace('_', '-')}={getattr(a, k)}" for k in preset["run"]]
    table_args = ["--attention-table", str(a.attention_table)] if a.attention_table else []
    duogen = run_lines([str(a.bench_binary), "--models", str(models)] + common + table_args)
    reference = []
    if not a.skip_reference:
        for worker in ("transformers", "diffusers"):
            reference += run_lines([sys.executable, __file__, "--worker", worker, "--preset", a.preset,
                                    "--models-dir", str(models)] + common)
    names = {"prefill": "transformers", "decode": "transformers", "vit": "transformers",
             "dit_step": "diffusers", "image": "diffusers", "vae_decode": "diffusers"}
    end_load = os.getloadavg()
    threads = duogen[0]["threads"] if duogen else "?"
    print(f"\npreset {a.preset}, device {a.device}, dtype {a.dtype}, {threads} CPU thread(s), median of "
          f"{a.repeats} after {a.warmup} warm-up; load average {load[0]:.2f} at the start, "
          f"{end_load[0]:.2f} at the end\n")
    print(table(duogen, reference, names))
    print("\nattention backends per call site (duogen, timed runs):")
    for r in duogen:
        calls = ", ".join(f"{site}: " + "/".join(f"{b} x{n}" for b, n in backends.items())
                          for site, backends in r.get("attention_calls", {}).items())
        print(f"  {r['name']}: {calls or '-'}")


if __name__ == "__main__":
    main()
