#include "pipeline/conditioning.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace duogen::pipeline {

std::int64_t negative_context_length(const ContextMarks& marks, std::int64_t bov,
                                     CfgNegative rule) {
  DUOGEN_CHECK(bov > 0 && marks.first_user_content > 0 &&
                   marks.first_user_content <= marks.assistant_start &&
                   marks.assistant_start <= bov,
               InvalidArgument,
               "negative context: inconsistent marks (first user content {}, assistant start {}, "
               "<BOV> at {})",
               marks.first_user_content, marks.assistant_start, bov);
  switch (rule) {
    case CfgNegative::kZeroContext:
      return bov;
    case CfgNegative::kAssistantTurnStart:
      return marks.assistant_start;
    case CfgNegative::kAfterLastImage: {
      std::int64_t q = marks.first_user_content;
      for (const std::int64_t end : marks.image_ends) {
        if (end < bov) q = std::max(q, end + 1);
      }
      return q;
    }
  }
  DUOGEN_FAIL(InvalidArgument, "negative context: unknown rule");
}

std::pair<std::int64_t, std::int64_t> condition_frame_size(std::int64_t height, std::int64_t width,
                                                           std::int64_t max_area) {
  DUOGEN_CHECK(height > 0 && width > 0 && max_area >= 256, InvalidArgument,
               "condition frame size: bad image {}x{} or area cap {}", width, height, max_area);
  constexpr std::int64_t kMultiple = 16;
  const double scale =
      std::min(1.0, std::sqrt(static_cast<double>(max_area) / static_cast<double>(height * width)));
  // Floor keeps the area under the cap after snapping; a side never drops below one multiple.
  const auto snap = [&](std::int64_t side) {
    const auto units = static_cast<std::int64_t>(std::floor(side * scale / kMultiple));
    return std::max<std::int64_t>(1, units) * kMultiple;
  };
  std::int64_t h = snap(height), w = snap(width);
  // An extreme aspect ratio can push the 16-pixel minimum over the cap; shrink the long side.
  while (h * w > max_area && (h > kMultiple || w > kMultiple)) (h >= w ? h : w) -= kMultiple;
  return {h, w};
}

}  // namespace duogen::pipeline
