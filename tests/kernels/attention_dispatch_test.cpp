// The attention dispatch (kernels/ops/attention_dispatch.h): which backends may compute a problem
// exactly, the built-in and the measured orders, failure memory and usage counts, on fake device
// capabilities, so that every rule is checked without a GPU; and the CPU entry points with a
// dispatch and prepared varlen layouts.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "duogen/error.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/attention_dispatch.h"
#include "kernels/reference/attention.h"

namespace duogen::ops {
namespace {

using B = AttentionBackend;
using S = AttentionSite;

DeviceCaps hopper() { return {.cuda = true, .cc_major = 9, .cc_minor = 0, .kernels_built = true}; }
DeviceCaps ampere() { return {.cuda = true, .cc_major = 8, .cc_minor = 0, .kernels_built = true}; }

AttentionProblem dense(S site, std::int64_t sq, std::int64_t sk, bool causal,
                       std::int64_t hq = 16, std::int64_t hkv = 16, std::int64_t d = 128,
                       c10::ScalarType dtype = c10::kBFloat16) {
  AttentionProblem p;
  p.site = site;
  p.dtype = dtype;
  p.heads_q = hq;
  p.heads_kv = hkv;
  p.seqlen_q = sq;
  p.seqlen_k = sk;
  p.head_dim = d;
  p.causal = causal;
  return p;
}

AttentionProblem varlen(S site, std::int64_t max_len, std::int64_t d, bool empty_keys = false) {
  AttentionProblem p = dense(site, max_len, max_len, false, 16, 16, d);
  p.varlen = true;
  p.batch = 40;
  p.empty_key_segment = empty_keys;
  return p;
}

bool has(const std::vector<B>& order, B b) {
  return std::find(order.begin(), order.end(), b) != order.end();
}

TEST(AttentionDispatch, NamesRoundTripAndUnknownNamesAreRefused) {
  for (std::size_t i = 0; i < kAttentionSiteCount; ++i) {
    const auto s = static_cast<S>(i);
    EXPECT_EQ(parse_site(site_name(s)), s);
  }
  for (std::size_t i = 0; i < kAttentionBackendCount; ++i) {
    const auto b = static_cast<B>(i);
    EXPECT_EQ(parse_backend(backend_name(b)), b);
  }
  EXPECT_FALSE(parse_site("dit_selfattention").has_value());
  EXPECT_FALSE(parse_backend("flash3").has_value());
}

TEST(AttentionDispatch, CpuTensorsOnlyHaveTheReference) {
  const AttentionProblem p = dense(S::kDitSelf, 2304, 2304, false);
  const DeviceCaps cpu{};
  for (std::size_t i = 1; i < kAttentionBackendCount; ++i) {
    EXPECT_FALSE(ineligibility(static_cast<B>(i), p, cpu).empty());
  }
  EXPECT_EQ(default_order(p, cpu), std::vector<B>{B::kReference});
}

TEST(AttentionDispatch, CachedPrefixCausalNeverGoesToTopLeftMaskingCudnn) {
  // 256 new tokens after 3840 cached ones, GQA 28/4: SDPA's is_causal would be top-left.
  const AttentionProblem p = dense(S::kLlmPrefillCached, 256, 4096, true, 28, 4);
  EXPECT_NE(ineligibility(B::kSdpaCudnn, p, hopper()).find("top-left"), std::string::npos);
  const auto order = default_order(p, hopper());
  EXPECT_FALSE(has(order, B::kSdpaCudnn));
  EXPECT_EQ(order.front(), B::kSdpaFlash);  // FlashAttention-2 masks bottom-right natively
  EXPECT_TRUE(has(order, B::kFlashKernel));
  EXPECT_TRUE(has(order, B::kSdpaEfficient));  // with its bottom-right mask type
  EXPECT_EQ(order.back(), B::kReference);
  // A square causal prefill is the same mask for every backend.
  EXPECT_TRUE(eligible(B::kSdpaCudnn, dense(S::kLlmPrefill, 4096, 4096, true, 28, 4), hopper()));
}

TEST(AttentionDispatch, DecodeStartsWithTheSplitKKernel) {
  const AttentionProblem p = dense(S::kLlmDecode, 1, 8192, true, 28, 4);
  EXPECT_TRUE(eligible(B::kSdpaCudnn, p, hopper()));  // one query sees every key
  EXPECT_EQ(default_order(p, hopper()).front(), B::kFlashKernel);
}

TEST(AttentionDispatch, DenseNonCausalPrefersCudnnOnHopperAndFlashOnAmpere) {
  const AttentionProblem p = dense(S::kDitSelf, 6912, 6912, false);
  EXPECT_EQ(default_order(p, hopper()).front(), B::kSdpaCudnn);
  EXPECT_EQ(default_order(p, ampere()).front(), B::kSdpaFlash);
}

TEST(AttentionDispatch, VarlenGoesToKernelsThatTakeSegments) {
  const AttentionProblem p = varlen(S::kVitWindow, 64, 80);
  const auto order = default_order(p, hopper());
  EXPECT_FALSE(has(order, B::kSdpaCudnn));
  EXPECT_EQ(order.front(), B::kSdpaFlash);
  // A segment without keys must give zeros: only the project's kernel and the reference do.
  const AttentionProblem empty = varlen(S::kDitCrossVarlen, 64, 128, /*empty_keys=*/true);
  EXPECT_EQ(default_order(empty, hopper()), (std::vector<B>{B::kFlashKernel, B::kReference}));
}

TEST(AttentionDispatch, DtypeHeadDimAndArchitectureLimits) {
  // fp32 on a GPU: the mem-efficient kernel is the only fused one.
  const AttentionProblem fp32 = dense(S::kGeneric, 512, 512, false, 8, 8, 64, c10::kFloat);
  EXPECT_EQ(default_order(fp32, hopper()), (std::vector<B>{B::kSdpaEfficient, B::kReference}));
  // The VAE mid-block: one head of 384 channels.
  const AttentionProblem vae = dense(S::kVaeMid, 9216, 9216, false, 1, 1, 384);
  EXPECT_EQ(default_order(vae, hopper()), (std::vector<B>{B::kSdpaEfficient, B::kReference}));
  // Head dim 96: FlashAttention-2 and cuDNN yes, the project's kernel is not instantiated.
  const AttentionProblem d96 = dense(S::kGeneric, 100, 100, false, 4, 4, 96);
  EXPECT_FALSE(eligible(B::kFlashKernel, d96, hopper()));
  EXPECT_TRUE(eligible(B::kSdpaFlash, d96, hopper()));
  // Turing: no FlashAttention-2, no cuDNN SDPA, no project kernel; mem-efficient remains.
  const DeviceCaps turing{.cuda = true, .cc_major = 7, .cc_minor = 5, .kernels_built = true};
  EXPECT_EQ(default_order(dense(S::kDitSelf, 2304, 2304, false), turing),
            (std::vector<B>{B::kSdpaEfficient, B::kReference}));
  // A build without the project's kernels.
  DeviceCaps no_kernels = hopper();
  no_kernels.kernels_built = false;
  EXPECT_FALSE(eligible(B::kFlashKernel, dense(S::kLlmDecode, 1, 100, true), no_kernels));
}

TEST(AttentionDispatch, MeasuredTimesOrderTheEligibleBackends) {
  AttentionMeasurement short_frames{.site = S::kDitSelf, .dtype = c10::kBFloat16,
                                    .head_dim = 128, .seqlen_q = 2304, .seqlen_k = 2304, .ms = {}};
  short_frames.ms = {{B::kSdpaCudnn, 0.30}, {B::kFlashKernel, 0.20}, {B::kSdpaFlash, 0.50}};
  AttentionMeasurement long_frames = short_frames;
  long_frames.seqlen_q = long_frames.seqlen_k = 17600;
  long_frames.ms = {{B::kSdpaCudnn, 9.0}, {B::kFlashKernel, 12.0}};
  AttentionMeasurement other_dtype = short_frames;
  other_dtype.dtype = c10::kHalf;
  other_dtype.ms = {{B::kSdpaEfficient, 0.01}};
  const AttentionDispatch d({short_frames, long_frames, other_dtype});

  // Nearest measured length in log scale: 3000 is nearer 2304, 12000 nearer 17600.
  EXPECT_EQ(d.order(dense(S::kDitSelf, 3000, 3000, false), hopper()),
            (std::vector<B>{B::kFlashKernel, B::kSdpaCudnn, B::kSdpaFlash, B::kSdpaEfficient,
                            B::kReference}));
  EXPECT_EQ(d.order(dense(S::kDitSelf, 12000, 12000, false), hopper()).front(), B::kSdpaCudnn);
  // Another site, or a head dim nobody measured: the built-in order.
  EXPECT_EQ(d.order(dense(S::kDitCross, 2304, 512, false), hopper()),
            default_order(dense(S::kDitCross, 2304, 512, false), hopper()));
  EXPECT_EQ(d.order(dense(S::kDitSelf, 2304, 2304, false, 16, 16, 64), hopper()).front(),
            B::kSdpaCudnn);
  // A measured backend the problem does not allow is skipped (no kernels in this build).
  DeviceCaps no_kernels = hopper();
  no_kernels.kernels_built = false;
  EXPECT_EQ(d.order(dense(S::kDitSelf, 3000, 3000, false), no_kernels).front(), B::kSdpaCudnn);
}

TEST(AttentionDispatch, AMeasuredReferenceThatWinsKeepsTheOthersOut) {
  AttentionMeasurement m{.site = S::kVaeMid, .dtype = c10::kBFloat16, .head_dim = 384,
                         .seqlen_q = 9216, .seqlen_k = 9216, .ms = {}};
  m.ms = {{B::kReference, 1.0}, {B::kSdpaEfficient, 1.5}};
  const AttentionDispatch d({m});
  EXPECT_EQ(d.order(dense(S::kVaeMid, 9216, 9216, false, 1, 1, 384), hopper()),
            std::vector<B>{B::kReference});
}

TEST(AttentionDispatch, OnlyForcesOneBackendAndFallsBackWhenItCannot) {
  const auto cudnn = AttentionDispatch::only(B::kSdpaCudnn);
  EXPECT_EQ(cudnn.order(dense(S::kDitSelf, 2304, 2304, false), hopper()),
            (std::vector<B>{B::kSdpaCudnn, B::kReference}));
  EXPECT_EQ(cudnn.order(dense(S::kLlmPrefillCached, 16, 64, true), hopper()),
            std::vector<B>{B::kReference});
}

TEST(AttentionDispatch, AFailedBackendLeavesItsSiteOnly) {
  const AttentionDispatch d;
  const AttentionProblem self = dense(S::kDitSelf, 2304, 2304, false);
  const AttentionProblem cross = dense(S::kDitCross, 2304, 512, false);
  d.record_failed(S::kDitSelf, B::kSdpaCudnn);
  EXPECT_FALSE(has(d.order(self, hopper()), B::kSdpaCudnn));
  EXPECT_EQ(d.order(cross, hopper()).front(), B::kSdpaCudnn);
}

TEST(AttentionDispatch, UsageCountsWhatRanPerSite) {
  const AttentionDispatch d;
  d.record_ran(S::kLlmDecode, B::kFlashKernel);
  d.record_ran(S::kLlmDecode, B::kFlashKernel);
  d.record_ran(S::kVaeMid, B::kReference);
  const auto usage = d.usage();
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage.at(S::kLlmDecode).at(B::kFlashKernel), 2);
  EXPECT_EQ(usage.at(S::kVaeMid).at(B::kReference), 1);
  d.reset_usage();
  EXPECT_TRUE(d.usage().empty());
}

TEST(AttentionEntryPoints, CpuCallsRunTheReferenceAndAreCountedAtTheirSite) {
  at::manual_seed(3);
  const at::Tensor q = at::randn({2, 4, 7, 16});
  const at::Tensor k = at::randn({2, 2, 11, 16});
  const at::Tensor v = at::randn({2, 2, 11, 16});
  const AttentionDispatch d;
  AttentionOptions o{.causal = true, .scale = std::nullopt, .site = S::kLlmPrefillCached,
                     .dispatch = &d};
  const at::Tensor out = attention(q, k, v, o);
  EXPECT_TRUE(at::equal(out, reference::attention(q, k, v, o)));
  EXPECT_EQ(d.usage().at(S::kLlmPrefillCached).at(B::kReference), 1);
}

TEST(AttentionEntryPoints, StrideZeroAndUnalignedViewsGiveTheDenseResult) {
  at::manual_seed(4);
  // DiT cross-attention: one context expanded over the batch (stride 0 on the batch axis).
  const at::Tensor q = at::randn({3, 4, 9, 32});
  const at::Tensor k1 = at::randn({1, 4, 5, 32});
  const at::Tensor v1 = at::randn({1, 4, 5, 32});
  const at::Tensor out = attention(q, k1.expand({3, -1, -1, -1}), v1.expand({3, -1, -1, -1}));
  const at::Tensor dense_out =
      attention(q, k1.repeat({3, 1, 1, 1}).contiguous(), v1.repeat({3, 1, 1, 1}).contiguous());
  EXPECT_TRUE(at::allclose(out, dense_out, 1e-6, 1e-6));
  // A view one element into its storage (not 16-byte aligned).
  const at::Tensor storage = at::randn({1 + 3 * 4 * 9 * 32});
  const at::Tensor shifted = storage.narrow(0, 1, 3 * 4 * 9 * 32).view({3, 4, 9, 32});
  EXPECT_TRUE(at::allclose(attention(shifted, k1.expand({3, -1, -1, -1}),
                                     v1.expand({3, -1, -1, -1})),
                           attention(shifted.clone(), k1.repeat({3, 1, 1, 1}),
                                     v1.repeat({3, 1, 1, 1})),
                           1e-6, 1e-6));
}

TEST(VarlenLayout, PrefixSumsGiveMaximaAndEmptySegments) {
  const at::Tensor cu_q = at::tensor(std::vector<std::int64_t>{0, 3, 3, 10});
  const at::Tensor cu_k = at::tensor(std::vector<std::int64_t>{0, 4, 4, 4});
  const VarlenLayout l = VarlenLayout::make(cu_q, cu_k, c10::kCPU);
  EXPECT_EQ(l.segments(), 3);
  EXPECT_EQ(l.total_q, 10);
  EXPECT_EQ(l.total_k, 4);
  EXPECT_EQ(l.max_q, 7);
  EXPECT_EQ(l.max_k, 4);
  EXPECT_TRUE(l.empty_key_segment);  // the third segment: 7 queries, no keys
  EXPECT_FALSE(l.cu_q_device.defined());  // a CPU layout copies nothing
  // The second segment has neither queries nor keys: not "empty keys".
  EXPECT_FALSE(VarlenLayout::make(cu_q, at::tensor(std::vector<std::int64_t>{0, 4, 4, 6}),
                                  c10::kCPU)
                   .empty_key_segment);
}

TEST(VarlenLayout, BadPrefixSumsAndMismatchedTotalsAreRefused) {
  const auto t = [](std::vector<std::int64_t> v) { return at::tensor(v); };
  EXPECT_THROW(VarlenLayout::make(t({1, 3}), t({0, 3}), c10::kCPU), InvalidArgument);
  EXPECT_THROW(VarlenLayout::make(t({0, 3, 2}), t({0, 3, 4}), c10::kCPU), InvalidArgument);
  EXPECT_THROW(VarlenLayout::make(t({0, 3}), t({0, 3, 4}), c10::kCPU), InvalidArgument);
  const VarlenLayout l = VarlenLayout::make(t({0, 3, 5}), t({0, 2, 6}), c10::kCPU);
  const at::Tensor q = at::randn({5, 2, 8});
  const at::Tensor k = at::randn({6, 2, 8});
  EXPECT_NO_THROW(varlen_attention(q, k, k, l));
  EXPECT_THROW(varlen_attention(q, at::randn({7, 2, 8}), at::randn({7, 2, 8}), l),
               InvalidArgument);
}

TEST(VarlenLayout, APreparedLayoutEqualsTheTensorEntryPoint) {
  at::manual_seed(5);
  const at::Tensor cu = at::tensor(std::vector<std::int64_t>{0, 4, 4, 13});
  const at::Tensor q = at::randn({13, 4, 16});
  const at::Tensor k = at::randn({13, 2, 16});
  const at::Tensor v = at::randn({13, 2, 16});
  const AttentionOptions o{.causal = true, .scale = std::nullopt, .site = S::kGeneric, .dispatch = nullptr};
  EXPECT_TRUE(at::equal(varlen_attention(q, k, v, VarlenLayout::make(cu, cu, c10::kCPU), o),
                        varlen_attention(q, k, v, cu, cu, o)));
}

}  // namespace
}  // namespace duogen::ops
