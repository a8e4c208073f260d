#include "sampling/flow/conditioning.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/check.h"

namespace duogen::sampling::flow {

at::Tensor frame_timesteps(const std::vector<bool>& is_condition_frame,
                           double t,
                           const ConditionFrameOptions& options,
                           at::ScalarType dtype) {
  DUOGEN_CHECK(!is_condition_frame.empty(), InvalidArgument,
               "frame timesteps: there are no frames");
  DUOGEN_CHECK(std::isfinite(t), InvalidArgument, "frame timesteps: t must be finite, got {}", t);
  DUOGEN_CHECK(options.mode != ConditionFrameTimestep::kFixed ||
                   (std::isfinite(options.fixed_value) && options.fixed_value >= 0.0),
               InvalidArgument,
               "frame timesteps: the condition-frame timestep must be finite and >= 0, got {}",
               options.fixed_value);
  const auto n = static_cast<std::int64_t>(is_condition_frame.size());
  at::Tensor out = at::empty({n}, at::TensorOptions().dtype(at::kDouble));
  double* data = out.data_ptr<double>();
  for (std::int64_t f = 0; f < n; ++f) {
    const bool fixed = is_condition_frame[static_cast<std::size_t>(f)] &&
                       options.mode == ConditionFrameTimestep::kFixed;
    data[f] = fixed ? options.fixed_value : t;
  }
  // Rounding each value once to `dtype` equals Cosmos' c*m + t*(1-m) with a 0/1 mask.
  return out.to(dtype);
}

}  // namespace duogen::sampling::flow
