#!/usr/bin/env python3
"""CPU timing of diffusers' whole Cosmos2_5_PredictBasePipeline (text -> image and text -> 9-frame
world) on a small random-weight snapshot, so duogen can be timed on the same directory.

    .venv/bin/python tools/bench/bench_cosmos_pipeline.py [--snapshot /tmp/duogen-cosmos2_5-small] [--size 256x256] [--steps 8] [--duogen build/duogen]

With --duogen, `duogen video` runs on the same snapshot and settings after each diffusers run
(its own process; its time is the run without the model load; peak RSS from wait4 of a second
identical run), and the ratios against diffusers in the same invocation are printed.

--snapshot DIR is used as it is when it holds a model_index.json; otherwise the small preset is
written there first (Cosmos2_5_PredictBasePipeline.save_pretrained layout, as
tools/reference/make_tiny_cosmos_snapshot.py, with its tokenizer): a Qwen2.5-VL text encoder of 4
layers x 256 (8 heads, 4 kv heads, MLP 1024) with a tiny vision tower, a Cosmos DiT of 4 blocks x
4 heads of 128 (the real head size; adaLN-LoRA 256, context 1024, connector input 4 x 256), a Wan2.1
VAE with base_dim 16 (the real topology otherwise), the Cosmos-Predict2.5 UniPC scheduler; fp32,
fixed seeds. Each run (t2i: num_frames 1; t2w: num_frames 9) is its own process: load, one warm-up
call at 1 step, then the timed `pipe(...)` call; it prints one JSON line with the wall time of the
call (and its stages: prompt encoding, denoising loop, VAE decode), the load time and the
process's peak resident memory (VmHWM, weights included). guidance 7 (both CFG branches per step),
max_sequence_length 512 (the pipeline's default), default negative prompt.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))

SMALL_TEXT = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                  num_key_value_heads=4, mrope_section=[4, 6, 6])
SMALL_DIT = dict(in_channels=17, out_channels=16, num_attention_heads=4, attention_head_dim=128, num_layers=4,
                 mlp_ratio=4.0, text_embed_dim=1024, adaln_lora_dim=256, max_size=(128, 240, 240),
                 patch_size=(1, 2, 2), rope_scale=(1.0, 3.0, 3.0), concat_padding_mask=True,
                 extra_pos_embed_type=None, use_crossattn_projection=True,
                 crossattn_proj_in_channels=SMALL_TEXT["num_hidden_layers"] * SMALL_TEXT["hidden_size"],
                 encoder_hidden_states_channels=1024)
SMALL_VAE = dict(base_dim=16, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True], dropout=0.0)
PROMPT = ("A robot arm picks up a blue cube from the table and places it in a wooden box. "
          "The camera stays still.")


def vm_hwm_mib() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return -1.0


def make_snapshot(out: pathlib.Path) -> None:
    import torch
    from diffusers import AutoencoderKLWan, CosmosTransformer3DModel, UniPCMultistepScheduler
    from diffusers.pipelines.cosmos.pipeline_cosmos2_5_predict import Cosmos2_5_PredictBasePipeline
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    import make_tiny_cosmos_snapshot as tiny

    tok = tiny.make_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in tiny.SPECIAL_TOKENS}
    t = SMALL_TEXT
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=(len(tok) + 63) // 64 * 64, hidden_size=t["hidden_size"],
                         intermediate_size=t["intermediate_size"], num_hidden_layers=t["num_hidden_layers"],
                         num_attention_heads=t["num_attention_heads"], num_key_value_heads=t["num_key_value_heads"],
                         max_position_embeddings=4096, rms_norm_eps=1e-6,
                         rope_parameters=dict(rope_type="default", rope_theta=1000000.0,
                                              mrope_section=t["mrope_section"]),
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                           out_hidden_size=t["hidden_size"], fullatt_block_indexes=[1], window_size=112),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False)
    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
    torch.manual_seed(0)
    transformer = CosmosTransformer3DModel(**SMALL_DIT).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(**SMALL_VAE).eval()
    pipe = Cosmos2_5_PredictBasePipeline(text_encoder=text_encoder, tokenizer=tok, transformer=transformer, vae=vae,
                                         scheduler=UniPCMultistepScheduler(**tiny.SCHEDULER),
                                         safety_checker=lambda *args, **kwargs: None)
    pipe.save_pretrained(out, safe_serialization=True)


def worker(snapshot: str, mode: str, height: int, width: int, steps: int) -> None:
    import torch
    from diffusers.pipelines.cosmos.pipeline_cosmos2_5_predict import Cosmos2_5_PredictBasePipeline

    import dump_cosmos_pipeline as ref  # the safety-checker stand-in and the torchvision shims

    start = time.perf_counter()
    pipe = Cosmos2_5_PredictBasePipeline.from_pretrained(snapshot, safety_checker=ref.StandInSafetyChecker())
    pipe.set_progress_bar_config(disable=True)
    load_seconds = time.perf_counter() - start
    stages: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
            return out
        return wrapper

    pipe.encode_prompt = timed("encode_prompt", pipe.encode_prompt)
    pipe.vae.decode = timed("vae_decode", pipe.vae.decode)
    num_frames = 1 if mode == "t2i" else 9
    kwargs = dict(prompt=PROMPT, height=height, width=width, num_frames=num_frames, guidance_scale=7.0,
                  output_type="np")
    pipe(num_inference_steps=1, generator=torch.Generator().manual_seed(0), **kwargs)  # warm-up
    stages.clear()
    start = time.perf_counter()
    frames = pipe(num_inference_steps=steps, generator=torch.Generator().manual_seed(0), **kwargs).frames
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "impl": "diffusers", "mode": mode, "height": height, "width": width, "num_frames": num_frames,
        "steps": steps, "guidance_scale": 7.0, "dtype": "float32", "threads": torch.get_num_threads(),
        "seconds": round(seconds, 3), "encode_prompt_seconds": round(stages["encode_prompt"], 3),
        "vae_decode_seconds": round(stages["vae_decode"], 3),
        "denoise_seconds": round(seconds - stages["encode_prompt"] - stages["vae_decode"], 3),
        "load_seconds": round(load_seconds, 3), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(vm_hwm_mib()), "frames_shape": list(frames.shape[1:]),
        "frames_mean": round(float(frames.mean()), 5), "snapshot": snapshot}), flush=True)


def duogen_run(binary: str, snapshot: str, mode: str, height: int, width: int, steps: int) -> dict:
    """`duogen video` on the same snapshot and settings, its own process; the time is the run
    itself (prompt encoding to the written output, as the CLI logs it), without the model load."""
    import re
    import tempfile
    num_frames = 1 if mode == "t2i" else 9
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / ("out.png" if num_frames == 1 else "out.mp4")
        cmd = [binary, "video", "--model", snapshot, "--prompt", PROMPT, "--frames", str(num_frames),
               "--height", str(height), "--width", str(width), "--steps", str(steps), "--guidance", "7",
               "--seed", "0", "--out", str(out)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        start = time.perf_counter()
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"duogen failed: {stderr}")
        match = re.search(r"in ([0-9.]+) s", stderr)
        seconds = float(match.group(1)) if match else float("nan")
    return {"impl": "duogen", "mode": mode, "height": height, "width": width, "num_frames": num_frames,
            "steps": steps, "guidance_scale": 7.0, "dtype": "float32", "seconds": seconds,
            "process_wall_seconds": round(wall, 3), "snapshot": snapshot}


def peak_rss_of(cmd: list[str]) -> float:
    """Runs cmd and returns its peak resident set (MiB) from wait4's rusage."""
    import os
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed (status {status})")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", type=pathlib.Path, default=pathlib.Path("/tmp/duogen-cosmos2_5-small"))
    parser.add_argument("--size", default="256x256", help="HxW in pixels (multiples of 16)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--modes", default="t2i,t2w")
    parser.add_argument("--duogen", help="also time this duogen binary on the same snapshot")
    parser.add_argument("--worker", nargs=5, metavar=("SNAPSHOT", "MODE", "H", "W", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        snapshot, mode, h, w, steps = args.worker
        worker(snapshot, mode, int(h), int(w), int(steps))
        return
    if not (args.snapshot / "model_index.json").exists():
        make_snapshot(args.snapshot)
        print(f"wrote the small snapshot to {args.snapshot}", file=sys.stderr)
    h, w = map(int, args.size.split("x"))
    results = []
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, __file__, "--worker", str(args.snapshot), mode, str(h), str(w),
                              str(args.steps)], check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
        if args.duogen:
            ours = duogen_run(args.duogen, str(args.snapshot), mode, h, w, args.steps)
            # Peak RSS from a second, identical run (wait4 on a process we started ourselves).
            frames = "1" if mode == "t2i" else "9"
            out_file = f"/tmp/duogen-bench-{mode}.{'png' if mode == 't2i' else 'mp4'}"
            ours["peak_rss_mib"] = round(peak_rss_of(
                [args.duogen, "video", "--model", str(args.snapshot), "--prompt", PROMPT, "--frames", frames,
                 "--height", str(h), "--width", str(w), "--steps", str(args.steps), "--guidance", "7",
                 "--seed", "0", "--out", out_file]))
            ours["speedup_vs_diffusers"] = round(results[-1]["seconds"] / ours["seconds"], 2)
            ours["rss_ratio_vs_diffusers"] = round(ours["peak_rss_mib"] / results[-1]["peak_rss_mib"], 2)
            results.append(ours)
            print(json.dumps(ours), flush=True)
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
