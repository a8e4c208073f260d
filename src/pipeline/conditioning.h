// The two rules that decide what the DiT sees of the conversation: where the negative CFG
// context ends (architecture.md §7.3) and how earlier images are sized as condition frames.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "pipeline/manifest.h"

namespace duogen::pipeline {

// Token positions the MLLM wrapper records while it builds the context.
struct ContextMarks {
  std::int64_t first_user_content = 0;  // first token of the first user message's content
  std::int64_t assistant_start = 0;     // first token of the current assistant turn
  std::vector<std::int64_t> image_ends; // positions of every <|vision_end|> closing an image
};

// Length q of the negative context pos[:, :q] for a <BOV> at position `bov` (the positive
// context is [0, bov)). kAfterLastImage: just after the last image that ends before <BOV>, or,
// with none, the template-only prefix [0, first_user_content). kAssistantTurnStart: the current
// assistant turn's start. kZeroContext: returns bov (same length; the caller zeroes it).
// Always 0 < q <= bov; throws InvalidArgument for inconsistent marks.
std::int64_t negative_context_length(const ContextMarks& marks, std::int64_t bov, CfgNegative rule);

// Size (height, width) of a condition frame for an image of h x w: aspect kept, both sides
// multiples of 16 (VAE 8 x DiT patch 2), area at most max_area; images already within the cap
// are only snapped down to multiples of 16. Each side is at least 16.
std::pair<std::int64_t, std::int64_t> condition_frame_size(std::int64_t height, std::int64_t width,
                                                           std::int64_t max_area);

}  // namespace duogen::pipeline
