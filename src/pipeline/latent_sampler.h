// The DiT half of image generation (architecture.md §9.2, §10): from the MLLM's all-layer hidden
// states and the clean latents of earlier images to the target latent x_0, with the packed-frame
// DiT, CFG and a flow solver. DuoGenImageModel wraps it with the VAE; `duogen verify`'s
// `cosmos_dit.sample` runs it alone against diffusers' denoising loop.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "models/cosmos_dit/dit.h"
#include "sampling/flow/conditioning.h"
#include "sampling/flow/sampler.h"

namespace duogen::pipeline {

struct LatentSamplerOptions {
  sampling::flow::SamplerOptions sampler;       // schedule, solver, CFG
  sampling::flow::ConditionFrameOptions frames;  // condition-frame timestep
  sampling::flow::NetworkTime network_time = sampling::flow::NetworkTime::kTimestep;
  // Both CFG branches as one batch-2 call per step (their contexts stacked, cross-attention as
  // varlen attention) instead of two calls: fewer, larger GEMMs and kernel launches at twice the
  // activation memory. The results agree to fp32 rounding.
  bool batch_cfg = true;
};

// The two CFG contexts of one image, each prepared once (connector + every block's K/V) and
// reused by every step.
struct CfgContexts {
  cosmos_dit::DitContext positive;
  cosmos_dit::DitContext negative;
};

// hidden: [layers + 1, tokens, hidden] (the MLLM's hidden states before <BOV>). The negative
// branch sees hidden[:, :negative_length] (§7.3), or, with `zero_negative`, Cosmos' all-zero
// connector input of the full length. Throws InvalidArgument for a bad shape or length.
CfgContexts prepare_cfg_contexts(const cosmos_dit::CosmosDiT& dit, const at::Tensor& hidden,
                                 std::int64_t negative_length, bool zero_negative);

// Samples the target latent from `noise` [1, C, 1, h, w] (on the DiT's device; the solver state
// keeps its dtype), conditioned on `conditions` (clean latents [1, C, 1, h_k, w_k] of any sizes,
// in conversation order, packed before the target). Returns x_0 in the noise's shape and dtype.
at::Tensor sample_latent(const cosmos_dit::CosmosDiT& dit, const CfgContexts& contexts,
                         const std::vector<at::Tensor>& conditions, const at::Tensor& noise,
                         const LatentSamplerOptions& options,
                         const sampling::flow::ProgressFn& progress = {});

}  // namespace duogen::pipeline
