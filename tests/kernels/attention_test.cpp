// ops::attention / ops::varlen_attention against an explicit fp64 softmax(QK^T)V written out here
// (no SDPA), so the reference path is checked against the textbook definition.
#include "kernels/ops/attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "duogen/error.h"

namespace duogen {
namespace {

// q [Hq,Sq,D], k/v [Hkv,Sk,D]; bottom-right causal.
at::Tensor attention_fp64(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          bool causal) {
  const auto groups = q.size(0) / k.size(0);
  const at::Tensor qd = q.to(at::kDouble);
  const at::Tensor kd = k.to(at::kDouble).repeat_interleave(groups, 0);
  const at::Tensor vd = v.to(at::kDouble).repeat_interleave(groups, 0);
  at::Tensor scores = at::matmul(qd, kd.transpose(-1, -2)) / std::sqrt(double(q.size(-1)));
  if (causal) {
    const auto sq = q.size(1), sk = k.size(1);
    const at::Tensor keep = at::arange(sk).unsqueeze(0) <= at::arange(sq).unsqueeze(1) + (sk - sq);
    scores = scores.masked_fill(keep.logical_not(), -INFINITY);
  }
  return at::matmul(at::softmax(scores, -1), vd);
}

// fp32 against fp64 with sums over at most a few hundred terms: well under 1e-5 relative.
constexpr double kRtol = 1e-5;
constexpr double kAtol = 1e-6;

TEST(Attention, GqaCausalAndDecodeMatchTheDefinition) {
  at::manual_seed(0);
  for (const auto& [sq, sk, causal] :
       {std::tuple{7, 7, true}, {1, 9, true}, {3, 11, true}, {5, 8, false}}) {
    const at::Tensor q = at::randn({2, 6, sq, 16});
    const at::Tensor k = at::randn({2, 2, sk, 16});
    const at::Tensor v = at::randn({2, 2, sk, 16});
    const at::Tensor out = ops::attention(q, k, v, {.causal = causal, .scale = std::nullopt});
    ASSERT_EQ(out.sizes(), q.sizes());
    for (int b = 0; b < 2; ++b) {
      EXPECT_TRUE(at::allclose(out[b].to(at::kDouble), attention_fp64(q[b], k[b], v[b], causal),
                               kRtol, kAtol))
          << sq << "x" << sk << " causal " << causal;
    }
  }
}

TEST(Attention, VarlenAttendsWithinSegmentsOnly) {
  at::manual_seed(1);
  // Segments of 3, 0 (empty), 1 and 5 tokens; cross-attention-like key lengths differ.
  const at::Tensor cu_q = at::tensor(std::vector<std::int64_t>{0, 3, 3, 4, 9});
  const at::Tensor cu_k = at::tensor(std::vector<std::int64_t>{0, 2, 4, 8, 10});
  const at::Tensor q = at::randn({9, 4, 8});
  const at::Tensor k = at::randn({10, 2, 8});
  const at::Tensor v = at::randn({10, 2, 8});
  const at::Tensor out = ops::varlen_attention(q, k, v, cu_q, cu_k);
  ASSERT_EQ(out.sizes(), q.sizes());
  const std::int64_t qs[] = {0, 3, 3, 4, 9};
  const std::int64_t ks[] = {0, 2, 4, 8, 10};
  for (int s = 0; s < 4; ++s) {
    if (qs[s + 1] == qs[s]) continue;
    const at::Tensor expected =
        attention_fp64(q.slice(0, qs[s], qs[s + 1]).transpose(0, 1),
                       k.slice(0, ks[s], ks[s + 1]).transpose(0, 1),
                       v.slice(0, ks[s], ks[s + 1]).transpose(0, 1), false)
            .transpose(0, 1);
    EXPECT_TRUE(at::allclose(out.slice(0, qs[s], qs[s + 1]).to(at::kDouble), expected, kRtol,
                             kAtol))
        << "segment " << s;
  }
}

TEST(Attention, RejectsInconsistentShapes) {
  const at::Tensor q = at::zeros({1, 6, 2, 8});
  EXPECT_THROW(ops::attention(q, at::zeros({1, 4, 2, 8}), at::zeros({1, 4, 2, 8})),
               InvalidArgument);  // 6 heads over 4 key heads
  EXPECT_THROW(ops::attention(q, at::zeros({1, 2, 2, 4}), at::zeros({1, 2, 2, 4})),
               InvalidArgument);  // head dims differ
  const ops::AttentionOptions causal{.causal = true, .scale = std::nullopt};
  EXPECT_THROW(ops::attention(at::zeros({1, 2, 5, 8}), at::zeros({1, 2, 3, 8}),
                              at::zeros({1, 2, 3, 8}), causal),
               InvalidArgument);  // more causal queries than keys
  EXPECT_THROW(ops::varlen_attention(at::zeros({4, 2, 8}), at::zeros({4, 2, 8}),
                                     at::zeros({4, 2, 8}), at::tensor(std::vector<std::int64_t>{0, 3}),
                                     at::tensor(std::vector<std::int64_t>{0, 4})),
               InvalidArgument);  // cu_seqlens_q does not end at 4
}

}  // namespace
}  // namespace duogen
