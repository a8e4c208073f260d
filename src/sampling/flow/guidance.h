// Classifier-free guidance of the flow velocity (architecture.md §10.5). Both branches share the
// state, the condition frames, the masks and the timesteps; only the text context differs
// (negative context: pipeline/conditioning.h).
#pragma once

#include <ATen/core/Tensor.h>

#include "sampling/flow/sampler_types.h"

namespace duogen::sampling::flow {

enum class CfgFormula {
  // v = v_c + g * (v_c - v_u): Cosmos video2world (get_velocity_fn_from_batch), the class
  // Predict2.5 uses, and diffusers' Cosmos2_5 pipeline. g = 0 is the conditional branch alone.
  kCosmos,
  // v = v_u + g * (v_c - v_u): the classic form (Cosmos text2world). g = 1 is the conditional
  // branch alone; kCosmos with g equals this with g + 1.
  kStandard,
};

struct CfgOptions {
  double guidance = 7.0;  // Cosmos CLI default (--guidance, allowed 0..7); DuoGen's is unknown
  CfgFormula formula = CfgFormula::kCosmos;
};

// Throws InvalidArgument for a negative or non-finite guidance.
void check_cfg(const CfgOptions& options);

// Whether the unconditional branch changes the result (false for kCosmos g = 0 and kStandard
// g = 1, where the combination is the conditional velocity and the second model call is skipped).
bool cfg_needs_uncond(const CfgOptions& options);

// The combined velocity, computed as the reference does (a difference, a scalar product, a sum in
// the branches' dtype). Throws InvalidArgument on mismatched shapes or dtypes.
at::Tensor cfg_combine(const at::Tensor& v_cond,
                       const at::Tensor& v_uncond,
                       const CfgOptions& options);

// A VelocityFn evaluating `cond` and (when cfg_needs_uncond) `uncond` on the same x and step and
// combining them. `uncond` may be empty only when it is not needed.
VelocityFn make_cfg_velocity(VelocityFn cond, VelocityFn uncond, const CfgOptions& options);

}  // namespace duogen::sampling::flow
