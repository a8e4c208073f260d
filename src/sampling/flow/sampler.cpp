#include "sampling/flow/sampler.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace duogen::sampling::flow {

at::Tensor sample(const at::Tensor& x_T,
                  const VelocityFn& velocity,
                  const FlowSchedule& schedule,
                  const SamplerOptions& options,
                  const ProgressFn& progress) {
  DUOGEN_CHECK(static_cast<bool>(velocity), InvalidArgument,
               "flow sampler: the velocity function is empty");
  DUOGEN_CHECK(x_T.defined(), InvalidArgument, "flow sampler: x_T is undefined");
  DUOGEN_CHECK(x_T.scalar_type() == at::kFloat || x_T.scalar_type() == at::kDouble, InvalidArgument,
               "flow sampler: x_T must be float32 (as the reference keeps the solver state) or "
               "float64, got {}",
               c10::toString(x_T.scalar_type()));
  auto stepper = make_stepper(options.solver, schedule, options.unipc);
  const int num_steps = schedule.num_evaluations();
  at::Tensor x = x_T;
  for (int i = 0; i < num_steps; ++i) {
    StepContext step;
    step.index = i;
    step.num_steps = num_steps;
    step.sigma = static_cast<double>(schedule.sigmas[static_cast<std::size_t>(i)]);
    step.timestep = schedule.timesteps[static_cast<std::size_t>(i)];
    step.num_train_timesteps = schedule.num_train_timesteps;
    at::Tensor v = velocity(x, step);
    DUOGEN_CHECK(v.defined() && v.sizes() == x.sizes(), InvalidArgument,
                 "flow sampler: step {} (sigma {}): the velocity has shape {}, the state {}", i,
                 step.sigma, v.defined() ? v.sizes().vec() : std::vector<std::int64_t>{},
                 x.sizes().vec());
    if (v.scalar_type() != x.scalar_type() || v.device() != x.device()) {
      v = v.to(x.device(), x.scalar_type());  // Cosmos: net_output.float()
    }
    x = stepper->step(x, v);
    if (progress) progress(step, x);
  }
  return x;
}

at::Tensor sample(const at::Tensor& x_T,
                  const VelocityFn& velocity,
                  const SamplerOptions& options,
                  const ProgressFn& progress) {
  return sample(x_T, velocity, make_schedule(options.schedule), options, progress);
}

at::Tensor sample_cfg(const at::Tensor& x_T,
                      const VelocityFn& cond,
                      const VelocityFn& uncond,
                      const SamplerOptions& options,
                      const ProgressFn& progress) {
  return sample(x_T, make_cfg_velocity(cond, uncond, options.cfg), options, progress);
}

}  // namespace duogen::sampling::flow
