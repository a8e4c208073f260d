// Every attention backend the dispatch may route a call site to, forced in turn on that site's
// problem (small shapes of the same kind), on the GPU: the dispatch's counts must show that the
// forced backend ran -- not a fallback -- and its result must meet flash-attention's rule against
// the fp32 attention of the same low-precision inputs (at most twice the error of the naive
// low-precision computation). Outputs are poisoned; the DiT cross-attention case reads K/V with
// batch stride 0 and one case reads a query view that is not 16-byte aligned. Skips without a GPU.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/ops/attention.h"
#include "kernels/ops/attention_dispatch.h"
#include "tests/kernels/cuda_test_utils.h"

namespace duogen::ops {
namespace {

using testing_cuda::max_abs_diff;
using testing_cuda::naive_attention;
using testing_cuda::poison_cuda_allocator;

constexpr double kFloor = 1e-5;  // see flash_attention_cuda_test.cpp

// What the entry points see for this GPU (a build without CUDA kernels: the reference only).
DeviceCaps this_gpu() {
  DeviceCaps caps{.cuda = true};
#ifdef DUOGEN_WITH_CUDA
  const cudaDeviceProp* props = at::cuda::getCurrentDeviceProperties();
  caps.cc_major = props->major;
  caps.cc_minor = props->minor;
  caps.kernels_built = true;
#endif
  return caps;
}

std::vector<AttentionBackend> all_backends() {
  std::vector<AttentionBackend> out;
  for (std::size_t i = 0; i < kAttentionBackendCount; ++i) {
    out.push_back(static_cast<AttentionBackend>(i));
  }
  return out;
}

// What ran under `dispatch` since the last call, as "site:backend xN" (then reset).
std::string ran(const AttentionDispatch& dispatch) {
  std::string out;
  for (const auto& [site, backends] : dispatch.usage()) {
    for (const auto& [b, n] : backends) {
      out += std::string(site_name(site)) + ":" + std::string(backend_name(b)) + " x" +
             std::to_string(n) + " ";
    }
  }
  dispatch.reset_usage();
  return out;
}

struct DenseSite {
  AttentionSite site;
  std::int64_t batch, heads_q, heads_kv, sq, sk, head_dim;
  bool causal;
  bool shared_kv = false;  // K/V of batch 1 expanded over the batch (stride 0)
  bool unaligned_q = false;
};

class AttentionBackendsCuda : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no GPU on this machine";
  }
};

TEST_P(AttentionBackendsCuda, EveryEligibleBackendAtEveryDenseSite) {
  const at::ScalarType dtype = GetParam();
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  at::manual_seed(21);
  const std::vector<DenseSite> sites = {
      {AttentionSite::kLlmPrefill, 1, 28, 4, 300, 300, 128, true},
      {AttentionSite::kLlmPrefillCached, 1, 28, 4, 77, 700, 128, true},
      {AttentionSite::kLlmDecode, 1, 28, 4, 1, 3000, 128, true},
      {AttentionSite::kDitSelf, 2, 16, 16, 576, 576, 128, false},
      {AttentionSite::kDitSelf, 1, 16, 16, 300, 300, 128, false, false, /*unaligned_q=*/true},
      {AttentionSite::kDitCross, 2, 16, 16, 576, 77, 128, false, /*shared_kv=*/true},
      {AttentionSite::kVaeMid, 1, 1, 1, 256, 256, 384, false},
  };
  const DeviceCaps caps = this_gpu();
  int ran_backends = 0;
  for (const DenseSite& s : sites) {
    at::Tensor q = at::randn({s.batch, s.heads_q, s.sq, s.head_dim}, opts);
    if (s.unaligned_q) {
      // Same values, one element into a fresh storage: data_ptr is 2 bytes off alignment.
      const at::Tensor storage = at::empty({q.numel() + 1}, opts);
      storage.narrow(0, 1, q.numel()).copy_(q.reshape({-1}));
      q = storage.narrow(0, 1, q.numel()).view(q.sizes());
    }
    const std::int64_t kv_batch = s.shared_kv ? 1 : s.batch;
    at::Tensor k = at::randn({kv_batch, s.heads_kv, s.sk, s.head_dim}, opts);
    at::Tensor v = at::randn({kv_batch, s.heads_kv, s.sk, s.head_dim}, opts);
    if (s.shared_kv) {
      k = k.expand({s.batch, -1, -1, -1});
      v = v.expand({s.batch, -1, -1, -1});
    }
    AttentionProblem p;
    p.site = s.site;
    p.dtype = dtype;
    p.batch = s.batch;
    p.heads_q = s.heads_q;
    p.heads_kv = s.heads_kv;
    p.seqlen_q = s.sq;
    p.seqlen_k = s.sk;
    p.head_dim = s.head_dim;
    p.causal = s.causal;
    const double scale = 1.0 / std::sqrt(double(s.head_dim));
    for (const AttentionBackend b : all_backends()) {
      const std::string what = std::string(site_name(s.site)) + " on " +
                               std::string(backend_name(b)) + " " + c10::toString(dtype);
      if (!eligible(b, p, caps)) continue;
      const auto dispatch = AttentionDispatch::only(b);
      poison_cuda_allocator(q.numel() * 2);
      const at::Tensor out = attention(
          q, k, v, {.causal = s.causal, .scale = std::nullopt, .site = s.site, .dispatch = &dispatch});
      EXPECT_EQ(ran(dispatch), std::string(site_name(s.site)) + ":" +
                                   std::string(backend_name(b)) + " x1 ")
          << what;
      ASSERT_EQ(out.sizes(), q.sizes()) << what;
      double out_err = 0, ref_err = 0;
      for (std::int64_t i = 0; i < s.batch; ++i) {
        const at::Tensor exact = naive_attention(q[i], k[i], v[i], s.causal, scale, at::kFloat);
        const at::Tensor lowp = naive_attention(q[i], k[i], v[i], s.causal, scale, dtype);
        out_err = std::max(out_err, max_abs_diff(out[i], exact));
        ref_err = std::max(ref_err, max_abs_diff(lowp, exact));
      }
      EXPECT_LE(out_err, 2 * ref_err + kFloor) << what << ": low-precision error " << ref_err;
      ++ran_backends;
    }
  }
  // On any sm80+ GPU at least the project kernel, FA2, mem-efficient and the reference ran.
  EXPECT_GE(ran_backends, static_cast<int>(sites.size()) * 2);
}

TEST_P(AttentionBackendsCuda, EveryEligibleBackendAtEveryVarlenSite) {
  const at::ScalarType dtype = GetParam();
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  at::manual_seed(22);
  struct VarlenSite {
    AttentionSite site;
    std::vector<std::int64_t> q_lens, k_lens;
    std::int64_t heads, head_dim;
  };
  const std::vector<VarlenSite> sites = {
      {AttentionSite::kVitWindow, std::vector<std::int64_t>(24, 64),
       std::vector<std::int64_t>(24, 64), 16, 80},
      {AttentionSite::kVitFull, {1024, 576}, {1024, 576}, 16, 80},
      // Both CFG branches: 576 latent tokens each against contexts of 91 and 12 tokens.
      {AttentionSite::kDitCrossVarlen, {576, 576}, {91, 12}, 16, 128},
  };
  const DeviceCaps caps = this_gpu();
  for (const VarlenSite& s : sites) {
    std::vector<std::int64_t> cu_q{0}, cu_k{0};
    for (std::size_t i = 0; i < s.q_lens.size(); ++i) {
      cu_q.push_back(cu_q.back() + s.q_lens[i]);
      cu_k.push_back(cu_k.back() + s.k_lens[i]);
    }
    const at::Tensor q = at::randn({cu_q.back(), s.heads, s.head_dim}, opts);
    const at::Tensor k = at::randn({cu_k.back(), s.heads, s.head_dim}, opts);
    const at::Tensor v = at::randn({cu_k.back(), s.heads, s.head_dim}, opts);
    const VarlenLayout layout = VarlenLayout::make(at::tensor(cu_q), at::tensor(cu_k), q.device());
    AttentionProblem p;
    p.site = s.site;
    p.dtype = dtype;
    p.varlen = true;
    p.batch = layout.segments();
    p.heads_q = p.heads_kv = s.heads;
    p.seqlen_q = layout.max_q;
    p.seqlen_k = layout.max_k;
    p.head_dim = s.head_dim;
    const double scale = 1.0 / std::sqrt(double(s.head_dim));
    for (const AttentionBackend b : all_backends()) {
      if (!eligible(b, p, caps)) continue;
      const std::string what = std::string(site_name(s.site)) + " on " +
                               std::string(backend_name(b)) + " " + c10::toString(dtype);
      const auto dispatch = AttentionDispatch::only(b);
      poison_cuda_allocator(q.numel() * 2);
      const at::Tensor out =
          varlen_attention(q, k, v, layout, {.causal = false, .scale = std::nullopt, .site = s.site, .dispatch = &dispatch});
      EXPECT_EQ(ran(dispatch), std::string(site_name(s.site)) + ":" +
                                   std::string(backend_name(b)) + " x1 ")
          << what;
      double out_err = 0, ref_err = 0;
      for (std::size_t i = 0; i < s.q_lens.size(); ++i) {
        const at::Tensor qs = q.slice(0, cu_q[i], cu_q[i + 1]).transpose(0, 1);
        const at::Tensor ks = k.slice(0, cu_k[i], cu_k[i + 1]).transpose(0, 1);
        const at::Tensor vs = v.slice(0, cu_k[i], cu_k[i + 1]).transpose(0, 1);
        const at::Tensor exact = naive_attention(qs, ks, vs, false, scale, at::kFloat);
        const at::Tensor lowp = naive_attention(qs, ks, vs, false, scale, dtype);
        out_err = std::max(
            out_err, max_abs_diff(out.slice(0, cu_q[i], cu_q[i + 1]).transpose(0, 1), exact));
        ref_err = std::max(ref_err, max_abs_diff(lowp, exact));
      }
      EXPECT_LE(out_err, 2 * ref_err + kFloor) << what << ": low-precision error " << ref_err;
    }
  }
}

TEST_P(AttentionBackendsCuda, TheBuiltInOrderRunsItsFirstChoice) {
  // Without a table, a CUDA call runs the first backend of default_order (no silent fallback).
  const at::ScalarType dtype = GetParam();
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  const at::Tensor q = at::randn({1, 16, 512, 128}, opts);
  const at::Tensor k = at::randn({1, 16, 512, 128}, opts);
  const AttentionDispatch dispatch;
  (void)attention(q, k, k, {.causal = false, .scale = std::nullopt, .site = AttentionSite::kDitSelf, .dispatch = &dispatch});
  AttentionProblem p;
  p.site = AttentionSite::kDitSelf;
  p.dtype = dtype;
  p.heads_q = p.heads_kv = 16;
  p.seqlen_q = p.seqlen_k = 512;
  p.head_dim = 128;
  const AttentionBackend first = default_order(p, this_gpu()).front();
  EXPECT_EQ(ran(dispatch), "dit_self:" + std::string(backend_name(first)) + " x1 ");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, AttentionBackendsCuda,
                         ::testing::Values(at::kHalf, at::kBFloat16));

}  // namespace
}  // namespace duogen::ops
