// Per-frame timesteps for condition frames (architecture.md §9.1): the target's t, or a fixed
// small value. (Where the CFG negative context ends is the pipeline's rule: pipeline/conditioning.h.)
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <span>
#include <vector>

namespace duogen::sampling::flow {

enum class ConditionFrameTimestep {
  kSameAsTarget,  // Cosmos conditional_frame_timestep = -1 (pre-trained 2B): one t for all frames
  kFixed,         // condition frames get fixed_value (post-trained 2B; diffusers' default)
};

struct ConditionFrameOptions {
  ConditionFrameTimestep mode = ConditionFrameTimestep::kSameAsTarget;
  // On the sigma / [0, 1] scale: 1e-4 = Cosmos' 0.1 on the 0..1000 timestep scale. Pass the value
  // on whatever scale `t` uses.
  double fixed_value = 1e-4;
};

// Per-frame timesteps [num_frames] for the network's per-frame adaLN: `t` on target frames, and t
// or fixed_value on condition frames (computed as Cosmos mixes them: c*m + t*(1-m) in `dtype`).
at::Tensor frame_timesteps(const std::vector<bool>& is_condition_frame,
                           double t,
                           const ConditionFrameOptions& options,
                           at::ScalarType dtype = at::kFloat);

}  // namespace duogen::sampling::flow
