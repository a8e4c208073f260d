// The flow-matching sampling loop (architecture.md §10): integrate x from sigma_0 (noise, x_T) to
// sigma = 0 (x_0) with a solver over a schedule, calling the model through a VelocityFn. The loop
// knows nothing of the DiT: a caller wires a network as
//
//   flow::SamplerOptions options;                       // UniPC, linear shift 5, 35 steps
//   options.cfg.guidance = 7.0;
//   auto cond = [&](const at::Tensor& x, const flow::StepContext& s) {
//     return dit.forward(x, s.timestep * 0.001 /* or s.sigma */, positive_context);
//   };
//   auto uncond = ...same with the negative context (pipeline/conditioning.h)...;
//   at::Tensor x0 = flow::sample_cfg(flow::numpy_noise(shape, seed), cond, uncond, options);
//
// Velocities are combined after any condition-frame handling the callbacks do (§10.5).
#pragma once

#include <ATen/core/Tensor.h>

#include "sampling/flow/guidance.h"
#include "sampling/flow/sampler_types.h"
#include "sampling/flow/schedule.h"
#include "sampling/flow/stepper.h"

namespace duogen::sampling::flow {

struct SamplerOptions {
  ScheduleOptions schedule;  // steps, shift, linear/karras, sigma range
  SolverKind solver = SolverKind::kUniPC;
  UniPcOptions unipc;
  CfgOptions cfg;  // used by sample_cfg
};

// Runs the whole schedule from x_T (float32 as the reference, or float64; the state keeps this
// dtype and device) and returns x_0. Throws InvalidArgument for bad options, a non-floating or
// half-precision x_T, an empty velocity function or a velocity of the wrong shape (naming the
// step).
at::Tensor sample(const at::Tensor& x_T,
                  const VelocityFn& velocity,
                  const SamplerOptions& options,
                  const ProgressFn& progress = {});

// The same over a schedule built elsewhere (custom sigmas); `options.schedule` is ignored.
at::Tensor sample(const at::Tensor& x_T,
                  const VelocityFn& velocity,
                  const FlowSchedule& schedule,
                  const SamplerOptions& options,
                  const ProgressFn& progress = {});

// sample() with the CFG combination of two branches per options.cfg (make_cfg_velocity).
at::Tensor sample_cfg(const at::Tensor& x_T,
                      const VelocityFn& cond,
                      const VelocityFn& uncond,
                      const SamplerOptions& options,
                      const ProgressFn& progress = {});

}  // namespace duogen::sampling::flow
