#!/usr/bin/env python3
"""Fused vs separate q/k/v and gate/up projections on the CPU: the measurement behind the
Qwen2.5-VL text model's separate matmuls (src/models/qwen2_5_vl/text_model.h).

    .venv/bin/python tools/bench/fused_projections.py [--threads 2] [--hidden 2048 --kv 256 --inter 11008]

Runs the input projections of one decoder layer (3B sizes by default: q 2048, k/v 256, gate/up
11008 rows, hidden 2048) with ATen's linear, as duogen does, for decode (T = 1) and prefill
(T = 128), fp32 and bf16: three + two separate matmuls against one [q; k; v] and one [gate; up]
matmul. Fused weights would have to be copied at load (the checkpoint stores them apart), which
for a mapped checkpoint means a second copy of ~55% of the language model. Prints the median of
each (alternating the variants, so a noisy neighbour hits both alike).
"""
import argparse
import time

import torch
import torch.nn.functional as F


def median_seconds(fn, reps):
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--q", type=int, default=2048)
    parser.add_argument("--kv", type=int, default=256)
    parser.add_argument("--inter", type=int, default=11008)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    h, q_rows, kv_rows, inter = args.hidden, args.q, args.kv, args.inter
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        wq, wk, wv = (torch.randn(n, h, generator=g).to(dtype) for n in (q_rows, kv_rows, kv_rows))
        bq, bk, bv = (torch.randn(n, generator=g).to(dtype) for n in (q_rows, kv_rows, kv_rows))
        wg, wu = (torch.randn(inter, h, generator=g).to(dtype) for _ in range(2))
        wqkv, bqkv, wgu = torch.cat([wq, wk, wv]), torch.cat([bq, bk, bv]), torch.cat([wg, wu])
        for tokens, reps in ((1, 30), (128, 8)):
            x = torch.randn(tokens, h, generator=g).to(dtype)

            def separate():
                F.linear(x, wq, bq), F.linear(x, wk, bk), F.linear(x, wv, bv)
                F.silu(F.linear(x, wg)) * F.linear(x, wu)

            def fused():
                F.linear(x, wqkv, bqkv).split([q_rows, kv_rows, kv_rows], 1)
                gu = F.linear(x, wgu)
                F.silu(gu[:, :inter]) * gu[:, inter:]

            sep, fus = [], []
            for _ in range(3):
                sep.append(median_seconds(separate, reps))
                fus.append(median_seconds(fused, reps))
            s, f = min(sep), min(fus)
            print(f"{str(dtype):15s} T={tokens:4d}  separate {s * 1e3:8.2f} ms  fused {f * 1e3:8.2f} ms"
                  f"  separate/fused {s / f:.3f}")


if __name__ == "__main__":
    main()
