// Per-branch and per-frame conditioning helpers the DiT velocity callbacks use:
//  - the CFG negative context (architecture.md §7.3): a prefix of the positive MLLM context whose
//    length comes from a configurable boundary rule (DuoGen's exact boundary is unknown), or the
//    all-zero context Cosmos trains its unconditional branch with (§7.2);
//  - per-frame timesteps for condition frames (§9.1): the target's t, or a fixed small value.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <span>
#include <vector>

namespace duogen::sampling::flow {

enum class NegativeContextKind {
  kPrefix,  // positive[..., :q, :]: the MLLM is causal, so this is the prefix's own hidden states
  kZeros,   // zeros shaped like the positive context (Cosmos' dropped-text input, pre-connector)
};

enum class PrefixBoundary {
  kAfterLastVisionEnd,  // q = 1 + the index of the last vision_end token
  kLastTurnStart,       // q = the index of the last turn-start token + turn_start_offset
  kFixed,               // q = fixed_length
};

struct NegativeContextOptions {
  NegativeContextKind kind = NegativeContextKind::kPrefix;
  PrefixBoundary boundary = PrefixBoundary::kAfterLastVisionEnd;
  // Used when the boundary token does not occur (pure text-to-image: no image in the prefix).
  PrefixBoundary fallback = PrefixBoundary::kLastTurnStart;
  std::int64_t vision_end_id = 151653;  // Qwen2.5-VL <|vision_end|>
  std::int64_t turn_start_id = 151644;  // Qwen2.5-VL <|im_start|>
  // Tokens kept after the turn start: 0 cuts before "<|im_start|>", 3 keeps
  // "<|im_start|>assistant\n" (the template-only prefix of the turn).
  std::int64_t turn_start_offset = 0;
  std::int64_t fixed_length = 0;
};

// q for a positive context made of `token_ids` (the tokens [0, p) before <BOV>). Throws
// InvalidArgument when neither rule finds its token or q falls outside [1, p].
std::int64_t negative_prefix_length(std::span<const std::int64_t> token_ids,
                                    const NegativeContextOptions& options);

// The negative context for `positive` ([L, D] or [B, L, D], L = token_ids.size()): a view of its
// first q tokens, or zeros of its shape. Throws InvalidArgument on a length mismatch.
at::Tensor negative_context(const at::Tensor& positive,
                            std::span<const std::int64_t> token_ids,
                            const NegativeContextOptions& options);

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
