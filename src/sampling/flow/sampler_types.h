// The types the sampling loop and its model callbacks share.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace duogen::sampling::flow {

// What the model needs to know about the current evaluation.
struct StepContext {
  int index = 0;      // 0-based evaluation index
  int num_steps = 0;  // model evaluations in the run (per branch)
  // The solver's sigma_i (the float32 schedule value, widened): x = (1 - sigma) x0 + sigma eps.
  // diffusers' Cosmos2_5 pipeline feeds the network this value.
  double sigma = 0.0;
  // int64(sigma_i * num_train_timesteps) as Cosmos computes it (truncated from float64); Cosmos
  // feeds the network timestep * 0.001 (architecture.md §10.2).
  std::int64_t timestep = 0;
  int num_train_timesteps = 1000;
};

// What the network is given as its timestep (architecture.md §10.2).
enum class NetworkTime {
  kTimestep,  // Cosmos: the truncated training timestep times its timestep_scale 0.001
  kSigma,     // diffusers' Cosmos2_5 pipeline: the float32 sigma itself
};

// The network's timestep at `step`. Cosmos multiplies by 0.001 rather than dividing by 1000;
// the two round differently.
inline double network_time(const StepContext& step, NetworkTime kind) {
  return kind == NetworkTime::kSigma ? step.sigma : static_cast<double>(step.timestep) * 0.001;
}

// The model: the flow velocity v = eps - x0 at state x. It must return x's shape; its dtype may
// differ (a bf16 network), the sampler converts it to the state's dtype as Cosmos' .float() does.
using VelocityFn = std::function<at::Tensor(const at::Tensor& x, const StepContext& step)>;

// Called after every step with the step just taken and the new state.
using ProgressFn = std::function<void(const StepContext& step, const at::Tensor& x_next)>;

}  // namespace duogen::sampling::flow
