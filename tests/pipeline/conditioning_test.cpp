#include "pipeline/conditioning.h"

#include <gtest/gtest.h>

#include <cmath>

#include "duogen/error.h"

namespace duogen::pipeline {
namespace {

TEST(NegativeContext, EachRuleCutsWhereItSays) {
  // [system ... | user content from 20 | image ends at 40 | assistant from 50 | image ends 80]
  const ContextMarks marks{20, 50, {40, 80}};
  EXPECT_EQ(negative_context_length(marks, 60, CfgNegative::kAfterLastImage), 41);
  EXPECT_EQ(negative_context_length(marks, 95, CfgNegative::kAfterLastImage), 81);
  EXPECT_EQ(negative_context_length(marks, 95, CfgNegative::kAssistantTurnStart), 50);
  EXPECT_EQ(negative_context_length(marks, 95, CfgNegative::kZeroContext), 95);
  // Text-to-image: no image at all, the negative context is the template-only prefix.
  EXPECT_EQ(negative_context_length({20, 30, {}}, 35, CfgNegative::kAfterLastImage), 20);
  EXPECT_THROW(negative_context_length({20, 30, {}}, 25, CfgNegative::kAfterLastImage),
               InvalidArgument);  // <BOV> before the assistant turn
}

TEST(ConditionFrameSize, KeepsAspectSnapsTo16AndRespectsTheAreaCap) {
  EXPECT_EQ(condition_frame_size(768, 768, 768 * 768), std::make_pair(768L, 768L));
  EXPECT_EQ(condition_frame_size(500, 333, 768 * 768), std::make_pair(496L, 320L));
  for (const auto& [h, w] : {std::pair{1080L, 1920L}, {4000L, 3000L}, {17L, 5000L}, {31L, 31L}}) {
    const auto [fh, fw] = condition_frame_size(h, w, 768 * 768);
    EXPECT_EQ(fh % 16, 0);
    EXPECT_EQ(fw % 16, 0);
    EXPECT_LE(fh * fw, 768 * 768);
    EXPECT_GE(std::min(fh, fw), 16);
    if (std::min(h, w) >= 64) {  // aspect kept to within one 16-pixel step
      EXPECT_NEAR(static_cast<double>(fw) / fh, static_cast<double>(w) / h,
                  16.0 * w / h / fh + 16.0 / fh);
    }
  }
  const auto [h, w] = condition_frame_size(1080, 1920, 768 * 768);
  EXPECT_GT(h * w, 0.9 * 768 * 768);  // the cap is used, not wasted
}

}  // namespace
}  // namespace duogen::pipeline
