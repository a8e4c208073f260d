#include "sampling/flow/conditioning.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/check.h"

namespace duogen::sampling::flow {
namespace {

const char* boundary_name(PrefixBoundary boundary) {
  switch (boundary) {
    case PrefixBoundary::kAfterLastVisionEnd:
      return "after_last_vision_end";
    case PrefixBoundary::kLastTurnStart:
      return "last_turn_start";
    case PrefixBoundary::kFixed:
      return "fixed";
  }
  return "unknown";
}

// q from one rule, or nothing when the rule's token does not occur.
std::optional<std::int64_t> apply_rule(std::span<const std::int64_t> ids,
                                       PrefixBoundary rule,
                                       const NegativeContextOptions& o) {
  const auto last_index = [&](std::int64_t token) -> std::optional<std::int64_t> {
    const auto it = std::find(ids.rbegin(), ids.rend(), token);
    if (it == ids.rend()) return std::nullopt;
    return static_cast<std::int64_t>(ids.rend() - it) - 1;
  };
  switch (rule) {
    case PrefixBoundary::kAfterLastVisionEnd: {
      const auto at = last_index(o.vision_end_id);
      if (!at) return std::nullopt;
      return *at + 1;
    }
    case PrefixBoundary::kLastTurnStart: {
      const auto at = last_index(o.turn_start_id);
      if (!at) return std::nullopt;
      return *at + o.turn_start_offset;
    }
    case PrefixBoundary::kFixed:
      return o.fixed_length;
  }
  return std::nullopt;
}

}  // namespace

std::int64_t negative_prefix_length(std::span<const std::int64_t> token_ids,
                                    const NegativeContextOptions& options) {
  const auto p = static_cast<std::int64_t>(token_ids.size());
  std::optional<std::int64_t> q = apply_rule(token_ids, options.boundary, options);
  if (!q) q = apply_rule(token_ids, options.fallback, options);
  DUOGEN_CHECK(q.has_value(), InvalidArgument,
               "negative context: neither the boundary rule {} nor the fallback {} finds its "
               "token in the {} context tokens",
               boundary_name(options.boundary), boundary_name(options.fallback), p);
  DUOGEN_CHECK(*q >= 1 && *q <= p, InvalidArgument,
               "negative context: prefix length {} (rule {}) is outside [1, {}]", *q,
               boundary_name(options.boundary), p);
  return *q;
}

at::Tensor negative_context(const at::Tensor& positive,
                            std::span<const std::int64_t> token_ids,
                            const NegativeContextOptions& options) {
  DUOGEN_CHECK(positive.defined() && (positive.dim() == 2 || positive.dim() == 3), InvalidArgument,
               "negative context: the positive context must be [L, D] or [B, L, D], got {}",
               positive.defined() ? positive.sizes().vec() : std::vector<std::int64_t>{});
  const std::int64_t length = positive.size(-2);
  DUOGEN_CHECK(length == static_cast<std::int64_t>(token_ids.size()), InvalidArgument,
               "negative context: the positive context has {} tokens but {} token ids were given",
               length, token_ids.size());
  switch (options.kind) {
    case NegativeContextKind::kZeros:
      return at::zeros_like(positive);
    case NegativeContextKind::kPrefix:
      return positive.narrow(-2, 0, negative_prefix_length(token_ids, options));
  }
  DUOGEN_FAIL(InvalidArgument, "negative context: unknown kind {}", static_cast<int>(options.kind));
}

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
