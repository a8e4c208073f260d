#!/usr/bin/env python3
"""Dumps the flow-matching sampler goldens (architecture.md §10) for tests/sampling:

    .venv/bin/python tools/reference/dump_flow_sampler.py --out tests/data/reference/flow_sampler.safetensors

Contents (all CPU):
  schedule.linear.n{N}.s{SHIFT}.{sigmas,timesteps}  Cosmos `FlowUniPCMultistepScheduler.set_timesteps`
      (use_kerras_sigma=False), as loaded into diffusers' UniPCMultistepScheduler through its
      `sigmas=` argument, which reproduces Cosmos' table exactly (checked against the formula here
      and against the worked values of architecture.md §10.2).
  schedule.karras.n{N}.{sigmas,timesteps}  Cosmos' EDM-Karras table (use_kerras_sigma=True).
  schedule.diffusers_karras.n{N}.{sigmas,timesteps}  diffusers' own UniPCMultistepScheduler
      (use_karras_sigmas, use_flow_sigmas, sigma 0.01..200), the Cosmos-Predict2.5 diffusers config.
  run.{euler,unipc,...}.*  full sampling runs with a synthetic "model" v = tanh(a*x + b*sigma)
      (CFG runs: a second branch with a_u, b_u, combined as v_c + g*(v_c - v_u)); the
      trajectory holds x before every step and the final x_0.
      Euler: diffusers FlowMatchEulerDiscreteScheduler (shift 1, the Cosmos sigmas passed in).
      UniPC: diffusers UniPCMultistepScheduler(bh2, order 2, predict_x0, lower_order_final,
      flow_prediction, use_flow_sigmas), whose step() is the one Cosmos' FlowUniPCMultistepScheduler
      copies. fp32 runs keep the scheduler as shipped (float32 sigmas and coefficients); fp64 runs
      upcast its sigma table to float64 so the whole recursion is float64.
  noise.numpy.*  np.random.RandomState(seed).standard_normal(shape) (float64), integer and array seeds.
  noise.torch.*  torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=...).
"""
import argparse
import pathlib

import diffusers
import numpy as np
import safetensors.torch
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

NUM_TRAIN = 1000
# Synthetic velocity model parameters (conditional and unconditional branch).
MODEL = {"a": 0.8, "b": -1.3, "a_u": 0.55, "b_u": 0.4}


def cosmos_linear_sigmas(n: int, shift: float) -> np.ndarray:
    """The pre-append float64 sigmas of Cosmos FlowUniPCMultistepScheduler.set_timesteps
    (cosmos-predict2.5 @ 50369b8d, models/fm_solvers_unipc.py): the training table is
    1 - linspace(1, 1/N, N)[::-1] in float32 (shift 1), sigma_max its first entry, sigma_min 0."""
    train = torch.from_numpy(1.0 - np.linspace(1, 1 / NUM_TRAIN, NUM_TRAIN)[::-1].copy()).float()
    sigma_max, sigma_min = train[0].item(), train[-1].item()
    s = np.linspace(sigma_max, sigma_min, n + 1).copy()[:-1]
    return shift * s / (1 + (shift - 1) * s)


def cosmos_karras_sigmas(n: int) -> np.ndarray:
    """Cosmos' EDM sigmas (sigma_max 200, sigma_min 0.01, rho 7) at n+1 points mapped to RF."""
    rho = 7
    r = np.arange(n + 1) / n
    min_inv_rho, max_inv_rho = 0.01 ** (1 / rho), 200 ** (1 / rho)
    s = (max_inv_rho + r * (min_inv_rho - max_inv_rho)) ** rho
    return s / (1 + s)


def unipc(**kw) -> UniPCMultistepScheduler:
    config = dict(num_train_timesteps=NUM_TRAIN, solver_order=2, prediction_type="flow_prediction",
                  predict_x0=True, solver_type="bh2", lower_order_final=True,
                  use_flow_sigmas=True, flow_shift=1.0)
    config.update(kw)
    return UniPCMultistepScheduler(**config)


# Variants beside the reference configuration, to pin the options duogen exposes.
UNIPC_VARIANTS = {"unipc": {}, "unipc_bh1": {"solver_type": "bh1"}, "unipc_o1": {"solver_order": 1},
                  "unipc_nocorr": {"disable_corrector": [0, 3]}}


def unipc_with(pre_sigmas: np.ndarray, **kw) -> UniPCMultistepScheduler:
    sched = unipc(**kw)
    sched.set_timesteps(sigmas=pre_sigmas.copy())
    # The table Cosmos builds: float32 sigmas + final 0, int64 (truncated) timesteps.
    want_sigmas = np.concatenate([pre_sigmas, [0]]).astype(np.float32)
    want_t = torch.from_numpy(pre_sigmas * NUM_TRAIN).to(torch.int64)
    assert np.array_equal(sched.sigmas.numpy(), want_sigmas)
    assert torch.equal(sched.timesteps, want_t)
    return sched


def velocity(x: torch.Tensor, sigma: float, a: float, b: float) -> torch.Tensor:
    return torch.tanh(x * a + b * sigma)


def guided(x: torch.Tensor, sigma: float, g: float) -> torch.Tensor:
    v_c = velocity(x, sigma, MODEL["a"], MODEL["b"])
    if g == 0.0:
        return v_c
    v_u = velocity(x, sigma, MODEL["a_u"], MODEL["b_u"])
    return v_c + g * (v_c - v_u)  # Cosmos video2world (architecture.md §10.5)


def run(sched, sigmas: torch.Tensor, x: torch.Tensor, g: float):
    """Drives `sched` as the Cosmos/diffusers loops do; returns the trajectory [steps + 1, ...]."""
    traj = [x.clone()]
    for i, t in enumerate(sched.timesteps):
        v = guided(x, float(sigmas[i]), g)
        x = sched.step(v, t, x, return_dict=False)[0]
        traj.append(x.clone())
    return torch.stack(traj)


def add_runs(out: dict) -> None:
    gen = torch.Generator().manual_seed(7)
    x_T = torch.randn(2, 3, 1, 4, 5, generator=gen, dtype=torch.float64)
    out["run.x_T"] = x_T
    for name, value in MODEL.items():
        out[f"run.model.{name}"] = torch.tensor(value, dtype=torch.float64)
    cases = [  # name, solver, pre-sigmas, guidance
        ("linear.n12.s5", "euler", cosmos_linear_sigmas(12, 5.0), 0.0),
        ("linear.n12.s5", "unipc", cosmos_linear_sigmas(12, 5.0), 0.0),
        ("linear.n35.s5", "unipc", cosmos_linear_sigmas(35, 5.0), 0.0),
        ("linear.n7.s1", "unipc", cosmos_linear_sigmas(7, 1.0), 0.0),
        ("linear.n2.s5", "unipc", cosmos_linear_sigmas(2, 5.0), 0.0),
        ("linear.n1.s5", "unipc", cosmos_linear_sigmas(1, 5.0), 0.0),
        ("karras.n10", "unipc", cosmos_karras_sigmas(10), 0.0),
        ("karras.n10", "euler", cosmos_karras_sigmas(10), 0.0),
        ("linear.n12.s5.cfg3", "unipc", cosmos_linear_sigmas(12, 5.0), 3.0),
        ("linear.n12.s5.cfg3", "euler", cosmos_linear_sigmas(12, 5.0), 3.0),
        ("linear.n12.s5", "unipc_bh1", cosmos_linear_sigmas(12, 5.0), 0.0),
        ("linear.n12.s5", "unipc_o1", cosmos_linear_sigmas(12, 5.0), 0.0),
        ("linear.n12.s5", "unipc_nocorr", cosmos_linear_sigmas(12, 5.0), 0.0),
    ]
    for name, solver, pre, g in cases:
        for dtype in (torch.float32, torch.float64):
            if solver == "euler":
                # diffusers' Euler upcasts the sample to float32 whatever its dtype: fp32 only.
                if dtype != torch.float32:
                    continue
                sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN, shift=1.0)
                sched.set_timesteps(sigmas=list(pre))
                assert np.array_equal(sched.sigmas.numpy(),
                                      np.concatenate([pre, [0]]).astype(np.float32))
                sigmas = sched.sigmas
            else:
                sched = unipc_with(pre, **UNIPC_VARIANTS[solver])
                if dtype == torch.float64:
                    sched.sigmas = sched.sigmas.double()
                sigmas = sched.sigmas
            tag = "f32" if dtype == torch.float32 else "f64"
            out[f"run.{solver}.{name}.{tag}"] = run(sched, sigmas, x_T.to(dtype), g)


def add_schedules(out: dict) -> None:
    for n, shift in [(35, 5.0), (12, 5.0), (7, 1.0), (2, 5.0), (1, 5.0), (50, 3.0), (20, 7.5)]:
        sched = unipc_with(cosmos_linear_sigmas(n, shift))
        key = f"schedule.linear.n{n}.s{shift:g}"
        out[f"{key}.sigmas"] = sched.sigmas.clone()
        out[f"{key}.timesteps"] = sched.timesteps.clone()
    # architecture.md §10.2 worked values (35 steps, shift 5).
    t35 = out["schedule.linear.n35.s5.timesteps"].tolist()
    assert t35[:6] == [999, 993, 987, 981, 974, 967] and t35[-3:] == [318, 232, 128], t35
    for n in (35, 10, 4):
        sched = unipc_with(cosmos_karras_sigmas(n))
        out[f"schedule.karras.n{n}.sigmas"] = sched.sigmas.clone()
        out[f"schedule.karras.n{n}.timesteps"] = sched.timesteps.clone()
    t_k = out["schedule.karras.n35.timesteps"].tolist()  # §10.3 worked values
    assert t_k[:5] == [995, 994, 993, 992, 990] and t_k[-3:] == [30, 17, 9], t_k
    for n in (36, 11, 5):
        sched = unipc(use_karras_sigmas=True, sigma_max=200.0, sigma_min=0.01)
        sched.set_timesteps(n)
        out[f"schedule.diffusers_karras.n{n}.sigmas"] = sched.sigmas.clone()
        out[f"schedule.diffusers_karras.n{n}.timesteps"] = sched.timesteps.clone()


def add_noise(out: dict) -> None:
    for seed, shape in [(1, (1, 16, 1, 6, 5)), (0, (7,)), (4294967295, (3, 11)), (123456789, (2, 3))]:
        out[f"noise.numpy.seed{seed}"] = torch.from_numpy(
            np.random.RandomState(seed).standard_normal(shape))
    key = [1, 2, 3, 4294967295]
    out["noise.numpy.key"] = torch.tensor(key, dtype=torch.int64)
    out["noise.numpy.array_seed"] = torch.from_numpy(np.random.RandomState(key).standard_normal((5, 7)))
    # An odd count so the cached second Gaussian is left over, then a second draw uses it.
    rs = np.random.RandomState(5)
    first = rs.standard_normal(3)
    second = rs.standard_normal(4)
    out["noise.numpy.seed5.split"] = torch.from_numpy(np.concatenate([first, second]))
    # torch CPU randn fills tensors of < 16 elements one by one and larger ones 16 at a time.
    for seed, shape, dtype in [(42, (7,), torch.float32), (42, (2, 16, 1, 3, 5), torch.float32),
                               (1, (3, 17), torch.float64), (0, (1, 16, 1, 4, 4), torch.float32)]:
        tag = "f32" if dtype == torch.float32 else "f64"
        dims = "x".join(str(d) for d in shape)
        out[f"noise.torch.seed{seed}.{dims}.{tag}"] = torch.randn(
            shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    out: dict = {}
    add_schedules(out)
    add_runs(out)
    add_noise(out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(
        {k: v.contiguous() for k, v in out.items()}, str(args.out),
        metadata={"producer": f"diffusers {diffusers.__version__}, torch {torch.__version__}, "
                              f"numpy {np.__version__}"})


if __name__ == "__main__":
    main()
