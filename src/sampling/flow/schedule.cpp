#include "sampling/flow/schedule.h"

#include <cmath>

#include "core/check.h"

namespace duogen::sampling::flow {
namespace {

// numpy.linspace(start, stop, count)[k] for k < count - 1: k * step + start with
// step = (stop - start) / (count - 1), the same two roundings numpy does.
double linspace_at(double start, double stop, int count, int k) {
  const double step = (stop - start) / static_cast<double>(count - 1);
  const double scaled = static_cast<double>(k) * step;  // kept apart: no fused multiply-add
  return scaled + start;
}

std::vector<double> linear_shift_sigmas(const ScheduleOptions& o) {
  // Cosmos' training table is 1 - linspace(1, 1/N, N) reversed, stored in float32: its first
  // entry (sigma_max) is float32(1 - 1/N) and its last (sigma_min) is exactly 0.
  const double n_train = o.num_train_timesteps;
  const double sigma_max =
      o.sigma_max.value_or(static_cast<double>(static_cast<float>(1.0 - 1.0 / n_train)));
  const double sigma_min = o.sigma_min.value_or(0.0);
  DUOGEN_CHECK(sigma_min >= 0.0 && sigma_min < sigma_max && sigma_max <= 1.0, InvalidArgument,
               "flow schedule: need 0 <= sigma_min < sigma_max <= 1, got sigma_min={} "
               "sigma_max={}",
               sigma_min, sigma_max);
  std::vector<double> sigmas(static_cast<std::size_t>(o.steps));
  for (int k = 0; k < o.steps; ++k) {
    const double s = linspace_at(sigma_max, sigma_min, o.steps + 1, k);
    // Same evaluation order as Cosmos: (shift * s) / (1 + (shift - 1) * s).
    sigmas[static_cast<std::size_t>(k)] = (o.shift * s) / (1.0 + (o.shift - 1.0) * s);
  }
  return sigmas;
}

std::vector<double> karras_sigmas(const ScheduleOptions& o) {
  DUOGEN_CHECK(o.karras_sigma_min > 0.0 && o.karras_sigma_min < o.karras_sigma_max &&
                   std::isfinite(o.karras_sigma_max),
               InvalidArgument,
               "flow schedule: need 0 < karras_sigma_min < karras_sigma_max, got {} and {}",
               o.karras_sigma_min, o.karras_sigma_max);
  DUOGEN_CHECK(o.karras_rho > 0.0 && std::isfinite(o.karras_rho), InvalidArgument,
               "flow schedule: karras_rho must be positive, got {}", o.karras_rho);
  const double min_inv_rho = std::pow(o.karras_sigma_min, 1.0 / o.karras_rho);
  const double max_inv_rho = std::pow(o.karras_sigma_max, 1.0 / o.karras_rho);
  std::vector<double> sigmas(static_cast<std::size_t>(o.steps) + 1);
  for (int k = 0; k <= o.steps; ++k) {
    // Cosmos uses arange(n+1) / n (a division, not numpy.linspace's k * step).
    const double r = static_cast<double>(k) / static_cast<double>(o.steps);
    const double scaled = r * (min_inv_rho - max_inv_rho);
    const double edm = std::pow(max_inv_rho + scaled, o.karras_rho);
    sigmas[static_cast<std::size_t>(k)] = edm / (1.0 + edm);  // EDM sigma -> RF sigma
  }
  return sigmas;
}

}  // namespace

FlowSchedule make_schedule(const ScheduleOptions& options) {
  DUOGEN_CHECK(options.steps >= 1, InvalidArgument,
               "flow schedule: steps must be at least 1, got {}", options.steps);
  DUOGEN_CHECK(options.num_train_timesteps >= 1, InvalidArgument,
               "flow schedule: num_train_timesteps must be at least 1, got {}",
               options.num_train_timesteps);
  std::vector<double> sigmas;
  switch (options.kind) {
    case ScheduleKind::kLinearShift:
      DUOGEN_CHECK(options.shift > 0.0 && std::isfinite(options.shift), InvalidArgument,
                   "flow schedule: shift must be positive and finite, got {}", options.shift);
      sigmas = linear_shift_sigmas(options);
      break;
    case ScheduleKind::kKarras:
      sigmas = karras_sigmas(options);
      break;
  }
  FlowSchedule schedule;
  schedule.num_train_timesteps = options.num_train_timesteps;
  schedule.sigmas.reserve(sigmas.size() + 1);
  schedule.timesteps.reserve(sigmas.size());
  for (const double s : sigmas) {
    // The timestep is truncated from the float64 sigma, before the float32 rounding.
    schedule.timesteps.push_back(
        static_cast<std::int64_t>(s * static_cast<double>(options.num_train_timesteps)));
    schedule.sigmas.push_back(static_cast<float>(s));
  }
  schedule.sigmas.push_back(0.0F);  // final_sigmas_type "zero"
  return schedule;
}

}  // namespace duogen::sampling::flow
