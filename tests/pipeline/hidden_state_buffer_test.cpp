#include "pipeline/hidden_state_buffer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "duogen/error.h"

namespace duogen::pipeline {
namespace {

// Chunks appended across a growth equal their concatenation; views handed out before the growth
// keep their values; the first allocation is the requested capacity.
TEST(HiddenStateBuffer, AppendsGrowsAndKeepsEarlierViews) {
  HiddenStateBuffer buffer(/*capacity=*/8, /*grow_chunk=*/4);
  EXPECT_EQ(buffer.capacity(), 0);
  std::vector<at::Tensor> chunks;
  at::manual_seed(0);
  for (std::int64_t n : {5, 1, 1}) {
    chunks.push_back(at::randn({3, n, 6}));
    buffer.append(chunks.back());
  }
  EXPECT_EQ(buffer.capacity(), 8);  // 7 tokens fit the preallocation
  const at::Tensor before = buffer.prefix(7);
  const at::Tensor before_copy = before.clone();
  chunks.push_back(at::randn({3, 6, 6}));
  buffer.append(chunks.back());  // 13 tokens: grows to 16
  EXPECT_EQ(buffer.capacity(), 16);
  EXPECT_EQ(buffer.length(), 13);
  EXPECT_TRUE(at::equal(buffer.prefix(13), at::cat(chunks, 1)));
  EXPECT_TRUE(at::equal(buffer.prefix(4), chunks[0].narrow(1, 0, 4)));
  EXPECT_TRUE(at::equal(before, before_copy));

  buffer.clear();  // a new conversation reuses the allocation
  buffer.append(chunks[1]);
  EXPECT_EQ(buffer.capacity(), 16);
  EXPECT_TRUE(at::equal(buffer.prefix(1), chunks[1]));
}

TEST(HiddenStateBuffer, RejectsWhatDoesNotContinueIt) {
  HiddenStateBuffer buffer(4);
  EXPECT_THROW(buffer.prefix(1), InvalidArgument);  // empty
  buffer.append(at::zeros({3, 2, 6}));
  EXPECT_THROW(buffer.append(at::zeros({4, 1, 6})), InvalidArgument);  // other entries
  EXPECT_THROW(buffer.append(at::zeros({3, 1, 5})), InvalidArgument);  // other width
  EXPECT_THROW(buffer.append(at::zeros({3, 1, 6}, at::kDouble)), InvalidArgument);
  EXPECT_THROW(buffer.append(at::zeros({3, 6})), InvalidArgument);
  EXPECT_THROW(buffer.prefix(3), InvalidArgument);
  EXPECT_THROW(HiddenStateBuffer(4, 0), InvalidArgument);
}

}  // namespace
}  // namespace duogen::pipeline
