// ops::rms_norm against its definition computed in float64, on CPU (the reference path) and,
// when a GPU is present, the CUDA kernel against the reference (flash-attention's rule: the
// kernel's error vs fp64 is at most twice the low-precision reference's error, plus a floor).
#include "kernels/ops/rms_norm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "kernels/reference/rms_norm.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace duogen {
namespace {

at::Tensor rms_norm_fp64(const at::Tensor& x, const at::Tensor& w, double eps) {
  const at::Tensor xd = x.to(at::kDouble);
  return w.to(at::kDouble) * xd * at::rsqrt(xd.pow(2).mean(-1, true) + eps);
}

TEST(RmsNorm, CpuFp32MatchesTheFp64Definition) {
  at::manual_seed(0);
  for (std::int64_t dim : {1, 7, 64, 1000}) {
    const at::Tensor x = at::randn({3, 5, dim});
    const at::Tensor w = at::randn({dim});
    const at::Tensor y = ops::rms_norm(x, w, 1e-6);
    EXPECT_EQ(y.scalar_type(), at::kFloat);
    // fp32 with a mean over `dim` values: a few ulp (1.2e-7) of relative error.
    EXPECT_TRUE(at::allclose(y.to(at::kDouble), rms_norm_fp64(x, w, 1e-6), 1e-5, 1e-6)) << dim;
  }
}

TEST(RmsNorm, Bf16RoundsBeforeTheWeightMultiply) {
  at::manual_seed(1);
  const at::Tensor x = at::randn({4, 96}).to(at::kBFloat16);
  const at::Tensor w = (1 + 0.1 * at::randn({96})).to(at::kBFloat16);
  const at::Tensor y = ops::rms_norm(x, w, 1e-6);
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = (xf * at::rsqrt(xf.pow(2).mean(-1, true) + 1e-6)).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(y, w * normed));
}

TEST(RmsNorm, RejectsMismatchedWeights) {
  EXPECT_ANY_THROW(ops::rms_norm(at::zeros({2, 4}), at::zeros({5}), 1e-6));
  EXPECT_ANY_THROW(ops::rms_norm(at::zeros({2, 4}), at::zeros({2, 4}), 1e-6));
}

class RmsNormCuda : public ::testing::TestWithParam<std::tuple<at::ScalarType, std::int64_t>> {};

TEST_P(RmsNormCuda, KernelErrorIsWithinTwiceTheReferenceError) {
#ifndef DUOGEN_WITH_CUDA
  GTEST_SKIP() << "built without CUDA kernels";
#else
  if (!at::hasCUDA()) GTEST_SKIP() << "no GPU on this machine";
  const auto [dtype, dim] = GetParam();
  at::manual_seed(2);
  const at::Tensor x = at::randn({37, dim}).to(dtype);
  const at::Tensor w = at::randn({dim}).to(dtype);
  const at::Tensor exact = rms_norm_fp64(x, w, 1e-6);
  const at::Tensor ref = reference::rms_norm(x, w, 1e-6);
  at::Tensor out = ops::rms_norm(x.cuda(), w.cuda(), 1e-6).cpu();
  const double ref_err = (ref.to(at::kDouble) - exact).abs().max().item<double>();
  const double out_err = (out.to(at::kDouble) - exact).abs().max().item<double>();
  EXPECT_LE(out_err, 2 * ref_err + 1e-6) << "ref error " << ref_err;
#endif
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormCuda,
                         ::testing::Combine(::testing::Values(at::kFloat, at::kHalf,
                                                              at::kBFloat16),
                                            ::testing::Values(1, 80, 128, 1280, 3584, 5000)));

}  // namespace
}  // namespace duogen
