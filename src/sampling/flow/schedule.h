// Noise schedules of the rectified-flow sampler (architecture.md §10.2, §10.3): the sigma table the
// solver integrates over and the integer timesteps the network is conditioned on. Pure math, no
// tensors; the tables reproduce Cosmos-Predict2.5's FlowUniPCMultistepScheduler.set_timesteps
// (cosmos-predict2.5 @ 50369b8d, models/fm_solvers_unipc.py) bit for bit.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace duogen::sampling::flow {

enum class ScheduleKind {
  // Cosmos default (use_kerras_sigma_at_inference=False): linspace(sigma_max, sigma_min, n+1)[:-1]
  // mapped through the shift s -> shift*s / (1 + (shift-1)*s). n model evaluations.
  kLinearShift,
  // EDM-Karras sigmas (rho 7, 0.01..200) at n+1 points mapped to RF as s/(1+s) (post-trained
  // Cosmos config; equals diffusers' use_karras_sigmas+use_flow_sigmas with n+1 steps).
  // n+1 model evaluations.
  kKarras,
};

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kLinearShift;
  int steps = 35;      // n (Cosmos generate_samples_from_batch default)
  double shift = 5.0;  // kLinearShift only (Cosmos default 5)
  int num_train_timesteps = 1000;
  // kLinearShift range. Unset: Cosmos' values, sigma_max = float32(1 - 1/num_train_timesteps)
  // (the first entry of the float32 training table, 0.99900001) and sigma_min = 0.
  std::optional<double> sigma_max;
  std::optional<double> sigma_min;
  // kKarras: the EDM sigma range and rho Cosmos forces at inference.
  double karras_sigma_min = 0.01;
  double karras_sigma_max = 200.0;
  double karras_rho = 7.0;
};

struct FlowSchedule {
  // sigma_0 .. sigma_{E-1} then the final 0: E+1 float32 values, E = model evaluations. The solver
  // works with these float32 values (as the reference scheduler stores them).
  std::vector<float> sigmas;
  // int64(sigma_i * num_train_timesteps) computed in float64 before the float32 rounding
  // (truncation, not rounding): E values. Cosmos feeds the network timesteps[i] * 0.001.
  std::vector<std::int64_t> timesteps;
  int num_train_timesteps = 1000;

  int num_evaluations() const { return static_cast<int>(timesteps.size()); }
};

// Throws InvalidArgument for steps < 1, a non-positive or non-finite shift, or a sigma range that
// is not 0 <= sigma_min < sigma_max <= 1 (linear) / 0 < karras_sigma_min < karras_sigma_max.
FlowSchedule make_schedule(const ScheduleOptions& options);

}  // namespace duogen::sampling::flow
