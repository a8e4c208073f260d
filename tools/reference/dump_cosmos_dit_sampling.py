#!/usr/bin/env python3
"""Dumps whole sampling runs of the tiny Cosmos DiT for `duogen verify` (component
`cosmos_dit.sample`, pipeline/latent_sampler.h): fixed noise -> x_0 of the target frame.

    .venv/bin/python tools/reference/dump_cosmos_dit_sampling.py --model tests/data/tiny-cosmos_dit --out-dir DIR

Cases (CPU, fp32):
  cosmos_dit.sample.diffusers  the denoising loop of diffusers' Cosmos2_5_PredictBasePipeline
      (pipeline_cosmos2_5_predict.py, __call__): its UniPCMultistepScheduler config (Karras flow
      sigmas 0.01..200, bh2, order 2), the network fed sigma, one condition frame (dense
      [B, C, T=2, H, W] with condition_mask, conditional_frame_timestep 1e-4 and the velocity of
      the condition frame replaced by gt_velocity), CFG v + g (v - v_neg) with g = 7. diffusers'
      6 inference steps are Cosmos' (and duogen's) Karras n = 5 (n + 1 evaluations).
  cosmos_dit.sample.cosmos  Cosmos' convention: the linear-shift schedule (n = 5, shift 5) in the
      FlowUniPCMultistepScheduler recursion (diffusers' UniPC given Cosmos' sigmas, see
      dump_flow_sampler.py), the network fed int64(1000 sigma) * 0.001, numpy noise, two condition
      frames of other sizes than the target (DuoGen's packed frames, §9.2), the condition frames at
      the step's own timestep, g = 7.
  cosmos_dit.sample.euler  Euler (FlowMatchEulerDiscreteScheduler on Cosmos' sigmas, n = 4),
      Cosmos' all-zero negative context, the standard formula v_u + g (v_c - v_u) with g = 3,
      condition frame at 1e-4.
In every case the negative branch sees the first `negative_length` tokens of the hidden states
(architecture.md §7.3) unless the zero context is asked for, and the contexts go through the
connector (normalised all-layer hidden states -> crossattn_proj) inside the model.
"""
import argparse
import pathlib

import diffusers
import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from dump_cosmos_dit import load, normalized_layers, packed_velocity
from dump_flow_sampler import cosmos_linear_sigmas, unipc, unipc_with
from reference_dump import write_dump

# fp32 CPU. One DiT call agrees to ~3e-7 (dump_cosmos_dit.py); CFG multiplies a velocity
# difference by up to 1 + g = 8 and the solver carries it through every step, so the final
# latent gets a few 1e-6. The bound leaves ~10x room above that and stays far below any real
# discrepancy (a wrong timestep or schedule entry moves x_0 by >1e-2).
RTOL = 3e-5
RTOL_REASON = "fp32 CPU: per-call DiT rounding (~3e-7) amplified by CFG (1 + g) over the steps"
GUIDANCE = 7.0


def contexts(model, hidden, negative_length, zero_negative=False):
    in_ch = model.config.crossattn_proj_in_channels
    positive = normalized_layers(hidden, in_ch)
    if zero_negative:
        return positive, torch.zeros_like(positive)
    return positive, normalized_layers(hidden[:, :negative_length], in_ch)


def diffusers_pipeline_case(model, g):
    """The Cosmos2_5_PredictBasePipeline loop on latents; returns (inputs, x_0, metadata)."""
    steps, cond_t = 6, 1e-4
    h, w = 8, 12
    hidden = torch.randn(4, 9, 20, generator=g)
    negative_length = 4
    pos, neg = contexts(model, hidden, negative_length)
    condition = torch.randn(1, 16, 1, h, w, generator=g)
    latents = torch.randn(1, 16, 2, h, w, generator=g)  # pipeline: randn_tensor(shape)
    cond_latent = torch.cat([condition, torch.zeros(1, 16, 1, h, w)], 2)
    cond_indicator = torch.zeros(1, 1, 2, 1, 1)
    cond_indicator[:, :, 0] = 1.0
    cond_mask = cond_indicator.expand(-1, -1, -1, h, w)
    padding_mask = torch.zeros(1, 1, h * 8, w * 8)
    gt_velocity = (latents - cond_latent) * cond_mask
    noise = latents[:, :, 1:].clone()

    sched = unipc(use_karras_sigmas=True, sigma_max=200.0, sigma_min=0.01)
    sched.set_timesteps(steps)
    with torch.no_grad():
        for i, t in enumerate(sched.timesteps):
            sigma_t = sched.sigmas[i].expand(1).to(torch.float32)
            in_timestep = cond_indicator * cond_t + (1 - cond_indicator) * sigma_t.view(1, 1, 1, 1, 1)
            in_latents = cond_mask * cond_latent + (1 - cond_mask) * latents
            v = model(in_latents, in_timestep, pos, condition_mask=cond_mask, padding_mask=padding_mask).sample
            v = gt_velocity + v * (1 - cond_mask)
            v_neg = model(in_latents, in_timestep, neg, condition_mask=cond_mask, padding_mask=padding_mask).sample
            v_neg = gt_velocity + v_neg * (1 - cond_mask)
            v = v + GUIDANCE * (v - v_neg)
            latents = sched.step(v, t, latents, return_dict=False)[0]
    inputs = {"noise": noise, "hidden_states_all_layers": hidden,
              "negative_length": torch.tensor(negative_length), "condition.0": condition}
    meta = {"sampler.steps": str(steps - 1), "sampler.schedule": "karras", "sampler.shift": "1",
            "sampler.solver": "unipc", "sampler.guidance": str(GUIDANCE),
            "sampler.network_time": "sigma", "sampler.condition_timestep": str(cond_t)}
    return inputs, latents[:, :, 1:], meta


def packed_run(model, sched, sigmas, noise, conditions, pos, neg, g, cond_t, formula):
    """A loop over duogen's packed frames with the Cosmos timestep; x is the target frame."""
    x = noise
    with torch.no_grad():
        for i, t in enumerate(sched.timesteps):
            t_net = float(int(float(sigmas[i]) * 1000)) * 0.001  # int64(sigma * 1000) * 0.001
            frame_t = [t_net if cond_t is None else cond_t] * len(conditions) + [t_net]
            steps = torch.tensor([frame_t], dtype=torch.float32)
            is_cond = [1] * len(conditions) + [0]
            frames = [c[:, :, 0] for c in conditions] + [x[:, :, 0]]
            v_c = packed_velocity(model, frames, steps, is_cond, pos)[:, :, None]
            v_u = packed_velocity(model, frames, steps, is_cond, neg)[:, :, None]
            v = v_c + g * (v_c - v_u) if formula == "cosmos" else v_u + g * (v_c - v_u)
            x = sched.step(v, t, x, return_dict=False)[0]
    return x


def cosmos_case(model, g):
    n, shift = 5, 5.0
    hidden = torch.randn(4, 11, 20, generator=g)
    negative_length = 6
    pos, neg = contexts(model, hidden, negative_length)
    conditions = [torch.randn(1, 16, 1, 6, 8, generator=g), torch.randn(1, 16, 1, 10, 6, generator=g)]
    noise = torch.from_numpy(np.random.RandomState(3).standard_normal((1, 16, 1, 8, 12))).float()
    sched = unipc_with(cosmos_linear_sigmas(n, shift))
    x0 = packed_run(model, sched, sched.sigmas, noise, conditions, pos, neg, GUIDANCE, None, "cosmos")
    inputs = {"noise": noise, "hidden_states_all_layers": hidden,
              "negative_length": torch.tensor(negative_length)}
    inputs.update({f"condition.{k}": c for k, c in enumerate(conditions)})
    meta = {"sampler.steps": str(n), "sampler.schedule": "linear_shift", "sampler.shift": str(shift),
            "sampler.solver": "unipc", "sampler.guidance": str(GUIDANCE),
            "sampler.network_time": "timestep", "sampler.condition_timestep": "same"}
    return inputs, x0, meta


def euler_case(model, g):
    n, shift, guidance, cond_t = 4, 5.0, 3.0, 1e-4
    hidden = torch.randn(4, 5, 20, generator=g)
    pos, neg = contexts(model, hidden, 0, zero_negative=True)
    conditions = [torch.randn(1, 16, 1, 8, 8, generator=g)]
    noise = torch.randn(1, 16, 1, 8, 12, generator=g)
    pre = cosmos_linear_sigmas(n, shift)
    sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    sched.set_timesteps(sigmas=list(pre))
    x0 = packed_run(model, sched, sched.sigmas, noise, conditions, pos, neg, guidance, cond_t, "standard")
    inputs = {"noise": noise, "hidden_states_all_layers": hidden,
              "negative_length": torch.tensor(hidden.shape[1]), "condition.0": conditions[0]}
    meta = {"sampler.steps": str(n), "sampler.schedule": "linear_shift", "sampler.shift": str(shift),
            "sampler.solver": "euler", "sampler.guidance": str(guidance),
            "sampler.network_time": "timestep", "sampler.condition_timestep": str(cond_t),
            "sampler.cfg_formula": "standard", "sampler.zero_negative": "1"}
    return inputs, x0, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--out-dir", type=pathlib.Path, required=True)
    args = parser.parse_args()
    model = load(args.model)
    producer = f"diffusers {diffusers.__version__}, torch {torch.__version__}"
    g = torch.Generator().manual_seed(11)
    for name, case in (("diffusers", diffusers_pipeline_case), ("cosmos", cosmos_case),
                       ("euler", euler_case)):
        inputs, x0, meta = case(model, g)
        write_dump(args.out_dir / f"cosmos_dit.sample.{name}.safetensors", "cosmos_dit.sample", inputs,
                   {"latent": x0}, dtype="float32", rtol=RTOL, rtol_reason=RTOL_REASON,
                   producer=producer, extra_metadata=meta)


if __name__ == "__main__":
    main()
