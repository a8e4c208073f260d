#!/usr/bin/env python3
"""Throughput and latency of `duogen serve`, and its overhead over `duogen generate`.

    .venv/bin/python tools/bench/bench_server.py --duogen build/duogen \
        --tokenizer ../shared/models/qwen2-tokenizer --work /tmp/bench_server [--requests 32] \
        [--concurrency 1,4,16] [--model DIR] [--out bench_server.json]

Starts `duogen serve` on a model (default: a tiny random one, written with init-tiny under --work)
and sends --requests small chat requests (text + one image: max_tokens 16, 64x64, 4 steps, the
<BOV> token biased so that the image is always made) at each concurrency, each request on its own
connection, every request with its own seed. The server runs one job at a time, so more clients
mean more queueing, not more throughput; the table shows what the queue costs in latency.

The server's overhead is measured against the same jobs (a .jsonl job file, same messages, seeds
and options) run by `duogen generate` in the same run, on the same model and device:

  generate per job = (wall(N jobs) - wall(1 job)) / (N - 1)
      two `generate` processes; the difference cancels process start-up and model loading, and
      keeps everything generate does per job (prefill, decode, sampling, PNG encoding, writing
      result.json / result.md / index.html).
  generate compute per job = the mean over jobs of result.json's top-level stage timings
      (prefill + decode + image_total + append_image): the model's work alone.
  server overhead = the mean latency at concurrency 1 (HTTP, JSON, base64, queueing of one)
      minus generate's per-job wall time; also given as a ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "server"))
import server_harness as H  # noqa: E402

PROMPT = [{"role": "user", "content": "Draw a small boat, then describe it in a sentence."}]
OPTIONS = {"steps": 4, "width": 64, "height": 64, "max_images": 1, "logit_bias": {"<BOV>": 10}}
MAX_TOKENS = 16
TOP_LEVEL_STAGES = ("prefill", "decode", "image_total", "append_image")


def percentile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def chat_payload(model_id, seed):
    return dict(model=model_id, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0, seed=seed,
                modalities=["text", "image"], **OPTIONS)


def job_line(seed):
    return dict(id=f"job-{seed}", messages=PROMPT, max_new_tokens=MAX_TOKENS, temperature=0,
                seed=seed, **OPTIONS)


def run_level(server, requests, concurrency, seed0):
    latencies, failures = [], []
    lock = threading.Lock()

    def one(i):
        t = time.monotonic()
        status, body, _ = server.post_json("/v1/chat/completions",
                                           chat_payload(server.model_id, seed0 + i), timeout=600)
        dt = time.monotonic() - t
        with lock:
            if status == 200:
                latencies.append(dt)
            else:
                failures.append((status, body))

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(requests)))
    wall = time.monotonic() - t0
    return {"concurrency": concurrency, "requests": requests, "ok": len(latencies),
            "failed": len(failures), "failures": [f"{s}: {b}" for s, b in failures[:3]],
            "wall_s": wall, "requests_per_s": len(latencies) / wall if wall else 0.0,
            "latency_mean_s": statistics.fmean(latencies) if latencies else float("nan"),
            "latency_p50_s": percentile(latencies, 0.5),
            "latency_p95_s": percentile(latencies, 0.95)}


def run_generate(args, model, seeds, work):
    jobs = os.path.join(work, f"jobs-{len(seeds)}.jsonl")
    with open(jobs, "w") as f:
        for s in seeds:
            f.write(json.dumps(job_line(s)) + "\n")
    out = os.path.join(work, f"generate-{len(seeds)}")
    if os.path.exists(out):
        subprocess.run(["rm", "-rf", out], check=True)
    t = time.monotonic()
    subprocess.run([args.duogen, "-v", "warn", "generate", "--model", model, "--prompts", jobs,
                    "--out", out, "-q", *args.device_args], check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    compute = []
    for s in seeds:
        with open(os.path.join(out, f"job-{s}", "result.json")) as f:
            timings = json.load(f)["timings_s"]
        compute.append(sum(timings.get(k, 0.0) for k in TOP_LEVEL_STAGES))
    return wall, compute


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duogen", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--concurrency", default="1,4,16")
    p.add_argument("--model", help="model directory (default: a tiny random model)")
    p.add_argument("--device", help="passed to serve and generate (cpu, cuda, cuda:N)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args()
    args.device_args = ["--device", args.device] if args.device else []
    os.makedirs(args.work, exist_ok=True)
    levels = [int(c) for c in args.concurrency.split(",") if c]
    n = max(args.requests, 2)
    model = args.model or H.tiny_model(args)

    results = {"model": os.path.basename(os.path.normpath(model)), "requests": n,
               "job": dict(max_tokens=MAX_TOKENS, **OPTIONS), "levels": [],
               "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with H.ServerProcess(args, model, "--max-queue", str(max(levels) + 4), "--timeout", "3600",
                         *args.device_args, log_name="bench_server.log") as server:
        for i in range(2):  # warm-up
            status, body, _ = server.post_json("/v1/chat/completions",
                                               chat_payload(server.model_id, 1000 + i))
            if status != 200:
                sys.exit(f"warm-up request failed: {status} {body}")
        for k, c in enumerate(levels):
            r = run_level(server, n, c, seed0=k * n)
            results["levels"].append(r)
            print(f"concurrency {c}: {r['requests_per_s']:.2f} req/s, p50 {r['latency_p50_s']:.3f} s",
                  file=sys.stderr)

    with tempfile.TemporaryDirectory(dir=args.work) as work:
        wall_1, _ = run_generate(args, model, [0], work)
        wall_n, compute = run_generate(args, model, list(range(n)), work)
    per_job = (wall_n - wall_1) / (n - 1)
    gen = {"wall_1_job_s": wall_1, "wall_n_jobs_s": wall_n, "per_job_s": per_job,
           "compute_per_job_s": statistics.fmean(compute),
           "jobs_per_s": 1 / per_job if per_job > 0 else float("nan")}
    results["generate"] = gen
    results["load_after"] = os.getloadavg()[0]
    base = next((r for r in results["levels"] if r["concurrency"] == 1), results["levels"][0])
    results["server_overhead_s"] = base["latency_mean_s"] - per_job
    results["server_overhead_ratio"] = base["latency_mean_s"] / per_job if per_job > 0 else None

    print(f"\n`duogen serve`, {n} requests per level (chat, max_tokens {MAX_TOKENS}, one "
          f"{OPTIONS['width']}x{OPTIONS['height']} image, {OPTIONS['steps']} steps), model "
          f"{results['model']}\n")
    print("| clients | ok | failed | requests/s | mean s | p50 s | p95 s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results["levels"]:
        print(f"| {r['concurrency']} | {r['ok']} | {r['failed']} | {r['requests_per_s']:.2f} | "
              f"{r['latency_mean_s']:.3f} | {r['latency_p50_s']:.3f} | {r['latency_p95_s']:.3f} |")
    print(f"| generate | {n} | 0 | {gen['jobs_per_s']:.2f} | {per_job:.3f} | | |")
    print(f"\n`duogen generate`, same jobs: {per_job * 1000:.1f} ms per job = (wall of {n} jobs "
          f"{wall_n:.2f} s - wall of 1 job {wall_1:.2f} s) / {n - 1}: start-up and model load "
          f"cancel out; compute alone (result.json prefill + decode + image_total + append_image) "
          f"{gen['compute_per_job_s'] * 1000:.1f} ms per job.")
    print(f"Server overhead at 1 client: mean latency {base['latency_mean_s'] * 1000:.1f} ms - "
          f"{per_job * 1000:.1f} ms = {results['server_overhead_s'] * 1000:+.1f} ms per request "
          f"(x{results['server_overhead_ratio']:.2f}): HTTP, JSON, base64 and the job queue, "
          f"less generate's files.")
    busy = max(results["load_before"], results["load_after"])
    if busy > 0.5 * (os.cpu_count() or 1):
        print(f"Warning: the machine was busy (1-minute load {busy:.1f} on {os.cpu_count()} CPUs): "
              "other processes share the cores, so the server and generate rows may have run "
              "under different loads; rerun on an idle machine to compare them.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.out}", file=sys.stderr)
    if any(r["failed"] for r in results["levels"]):
        sys.exit("some requests failed: " + "; ".join(
            f for r in results["levels"] for f in r["failures"]))


if __name__ == "__main__":
    main()
