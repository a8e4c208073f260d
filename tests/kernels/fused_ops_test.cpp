// The fused ops (residual add + RMSNorm, rotary, gated activations, adaLN modulate): their ATen
// references against textbook fp64 definitions written out here on CPU, and, with a GPU, the CUDA
// kernels against the same definitions with flash-attention's rule (kernel error at most twice
// the low-precision reference's error plus a floor), outputs poisoned with NaN first.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "duogen/error.h"
#include "kernels/ops/adaln_modulate.h"
#include "kernels/ops/add_rms_norm.h"
#include "kernels/ops/gated_activation.h"
#include "kernels/ops/rotary.h"
#include "kernels/reference/adaln_modulate.h"
#include "kernels/reference/add_rms_norm.h"
#include "kernels/reference/gated_activation.h"
#include "kernels/reference/rotary.h"
#include "tests/kernels/cuda_test_utils.h"

namespace duogen {
namespace {

// ---- fp64 textbook definitions --------------------------------------------------------------

at::Tensor f64(const at::Tensor& t) { return t.to(at::kCPU, at::kDouble); }

// h = x + r; y = w * h / sqrt(mean(h^2) + eps). `h` is passed in so the caller decides whether
// the sum was rounded (the op rounds it: it is the new residual stream).
at::Tensor rms_norm_fp64(const at::Tensor& h, const at::Tensor& w, double eps) {
  const at::Tensor hd = f64(h);
  return f64(w) * hd / at::sqrt(hd.pow(2).mean(-1, true) + eps);
}

// Element by element: out[..., i] uses x[..., i +- D/2]; written with explicit index ranges.
at::Tensor rotary_fp64(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const at::Tensor xd = f64(x);
  const std::int64_t half = x.size(3) / 2;
  const at::Tensor c = (cos.dim() == 2 ? f64(cos).unsqueeze(0) : f64(cos)).unsqueeze(2);
  const at::Tensor s = (sin.dim() == 2 ? f64(sin).unsqueeze(0) : f64(sin)).unsqueeze(2);
  const at::Tensor x1 = xd.slice(3, 0, half), x2 = xd.slice(3, half);
  const at::Tensor lo = x1 * c.slice(3, 0, half) - x2 * s.slice(3, 0, half);
  const at::Tensor hi = x2 * c.slice(3, half) + x1 * s.slice(3, half);
  return at::cat({lo, hi}, 3);
}

at::Tensor gated_fp64(const at::Tensor& gate, const at::Tensor& up, ops::GateActivation a) {
  const at::Tensor g = f64(gate);
  at::Tensor act;
  switch (a) {
    case ops::GateActivation::kSilu: act = g / (1 + at::exp(-g)); break;
    case ops::GateActivation::kGeluErf: act = 0.5 * g * (1 + at::erf(g / std::sqrt(2.0))); break;
    case ops::GateActivation::kGeluTanh:
      act = 0.5 * g *
            (1 + at::tanh(std::sqrt(2.0 / std::numbers::pi) * (g + 0.044715 * g.pow(3))));
      break;
  }
  return act * f64(up);
}

// Token s of S uses modulation row s / (S / G), written as an explicit index gather.
at::Tensor adaln_fp64(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift) {
  const at::Tensor sc = scale.dim() == 2 ? scale.unsqueeze(1) : scale;
  const at::Tensor sh = shift.dim() == 2 ? shift.unsqueeze(1) : shift;
  const std::int64_t tokens = x.size(1), group = tokens / sc.size(1);
  const at::Tensor rows = at::arange(tokens, at::kLong).div(group, "floor");
  return f64(x) * (1 + f64(sc).index_select(1, rows)) + f64(sh).index_select(1, rows);
}

// fp32 against fp64 over a handful of terms per output: a few fp32 ulp.
constexpr double kRtol = 1e-5;
constexpr double kAtol = 1e-6;

bool close64(const at::Tensor& a, const at::Tensor& b) {
  return at::allclose(f64(a), f64(b), kRtol, kAtol);
}

// ---- CPU: references against the definitions ------------------------------------------------

TEST(FusedOps, AddRmsNormMatchesTheDefinition) {
  at::manual_seed(20);
  for (std::int64_t dim : {1, 7, 128, 1000}) {
    const at::Tensor x = at::randn({3, 5, dim}), r = at::randn({3, 5, dim}), w = at::randn({dim});
    const auto [out, residual] = ops::add_rms_norm(x, r, w, 1e-6);
    EXPECT_TRUE(close64(residual, f64(x) + f64(r))) << dim;
    EXPECT_TRUE(close64(out, rms_norm_fp64(f64(x) + f64(r), w, 1e-6))) << dim;
  }
}

TEST(FusedOps, AddRmsNormRoundsTheResidualBeforeTheStatistics) {
  at::manual_seed(21);
  const at::Tensor x = at::randn({4, 96}).to(at::kBFloat16);
  const at::Tensor r = at::randn({4, 96}).to(at::kBFloat16);
  const at::Tensor w = (1 + 0.1 * at::randn({96})).to(at::kBFloat16);
  const auto [out, residual] = ops::add_rms_norm(x, r, w, 1e-6);
  const at::Tensor h = (x.to(at::kFloat) + r.to(at::kFloat)).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(residual, h));
  const at::Tensor hf = h.to(at::kFloat);
  const at::Tensor normed = (hf * at::rsqrt(hf.pow(2).mean(-1, true) + 1e-6)).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(out, w * normed));
}

TEST(FusedOps, RotaryMatchesTheDefinitionForSharedAndPerBatchTables) {
  at::manual_seed(22);
  const at::Tensor x = at::randn({2, 9, 3, 16});
  const at::Tensor shared_cos = at::randn({9, 16}), shared_sin = at::randn({9, 16});
  EXPECT_TRUE(close64(ops::apply_rotary(x, shared_cos, shared_sin),
                      rotary_fp64(x, shared_cos, shared_sin)));
  const at::Tensor cos = at::randn({2, 9, 16}), sin = at::randn({2, 9, 16});
  EXPECT_TRUE(close64(ops::apply_rotary(x, cos, sin), rotary_fp64(x, cos, sin)));
}

TEST(FusedOps, RotaryWithRealAnglesIsARotationOfEachPair) {
  // cos/sin of real angles (both halves share the angle, as every rotary table has): each pair
  // (x[i], x[i + D/2]) keeps its length.
  const at::Tensor angles = at::arange(5 * 4, at::kFloat).reshape({5, 4}) * 0.37;
  const at::Tensor table = at::cat({angles, angles}, -1);
  const at::Tensor x = at::randn({1, 5, 2, 8});
  const at::Tensor y = ops::apply_rotary(x, at::cos(table), at::sin(table));
  const auto pair_norm = [](const at::Tensor& t) {
    return t.slice(3, 0, 4).pow(2) + t.slice(3, 4).pow(2);
  };
  EXPECT_TRUE(at::allclose(pair_norm(y), pair_norm(x), 1e-5, 1e-5));
}

TEST(FusedOps, GatedActivationsMatchTheDefinitions) {
  at::manual_seed(23);
  const at::Tensor gate = 4 * at::randn({7, 33}), up = at::randn({7, 33});
  for (const auto a : {ops::GateActivation::kSilu, ops::GateActivation::kGeluErf,
                       ops::GateActivation::kGeluTanh}) {
    EXPECT_TRUE(close64(ops::gated_activation(gate, up, a), gated_fp64(gate, up, a)))
        << static_cast<int>(a);
  }
  EXPECT_TRUE(close64(ops::swiglu(gate, up), gated_fp64(gate, up, ops::GateActivation::kSilu)));
}

TEST(FusedOps, GatedActivationRoundsOnce) {
  at::manual_seed(24);
  const at::Tensor gate = at::randn({4096}).to(at::kBFloat16);
  const at::Tensor up = at::randn({4096}).to(at::kBFloat16);
  const at::Tensor expected =
      gated_fp64(gate, up, ops::GateActivation::kSilu).to(at::kFloat).to(at::kBFloat16);
  const at::Tensor got = ops::swiglu(gate, up);
  // fp32 math and one rounding equals the correctly rounded exact value except where fp32's own
  // error (~1e-7) crosses a bf16 rounding boundary: a tiny fraction, and then by one ulp
  // (2^-7 relative at most). Rounding the silu before the multiply (bf16 intermediates) would
  // disagree on a large fraction of the elements.
  const double equal_fraction = got.eq(expected).to(at::kDouble).mean().item<double>();
  EXPECT_GE(equal_fraction, 0.99);
  EXPECT_TRUE(at::allclose(got.to(at::kFloat), expected.to(at::kFloat), 1.0 / 128, 1e-30));
}

TEST(FusedOps, AdaLnModulateMatchesTheDefinitionPerSampleAndPerFrame) {
  at::manual_seed(25);
  const at::Tensor x = at::randn({2, 12, 8});
  const at::Tensor scale = at::randn({2, 8}), shift = at::randn({2, 8});
  EXPECT_TRUE(close64(ops::adaln_modulate(x, scale, shift), adaln_fp64(x, scale, shift)));
  const at::Tensor fscale = at::randn({2, 3, 8}), fshift = at::randn({2, 3, 8});  // 3 frames
  EXPECT_TRUE(close64(ops::adaln_modulate(x, fscale, fshift), adaln_fp64(x, fscale, fshift)));
}

TEST(FusedOps, PerOpRoundingGivesTheUnfusedExpressionsBits) {
  // What the models need: the bits of transformers' `act(gate) * up` and diffusers'
  // `x * (1 + scale) + shift` in bf16, where every ATen op rounds its own result.
  at::manual_seed(26);
  const at::Tensor gate = (4 * at::randn({4096})).to(at::kBFloat16);
  const at::Tensor up = at::randn({4096}).to(at::kBFloat16);
  const at::Tensor per_op = ops::swiglu(gate, up, ops::Rounding::kPerOp);
  EXPECT_TRUE(at::equal(per_op, at::silu(gate) * up));
  EXPECT_TRUE(at::equal(ops::gated_activation(gate, up, ops::GateActivation::kGeluTanh,
                                              ops::Rounding::kPerOp),
                        at::gelu(gate, "tanh") * up));
  // The two roundings differ from one on a visible fraction: the mode is not a no-op.
  EXPECT_GT(per_op.ne(ops::swiglu(gate, up)).to(at::kDouble).mean().item<double>(), 0.05);

  const at::Tensor x = at::randn({2, 12, 64}).to(at::kBFloat16);
  const at::Tensor scale = (0.1 * at::randn({2, 3, 64})).to(at::kBFloat16);
  const at::Tensor shift = at::randn({2, 3, 64}).to(at::kBFloat16);
  const at::Tensor got = ops::adaln_modulate(x, scale, shift, ops::Rounding::kPerOp);
  for (std::int64_t f = 0; f < 3; ++f) {  // frame f: tokens 4f .. 4f + 3
    const at::Tensor xf = x.narrow(1, 4 * f, 4);
    EXPECT_TRUE(at::equal(got.narrow(1, 4 * f, 4),
                          xf * (1 + scale.narrow(1, f, 1)) + shift.narrow(1, f, 1)))
        << "frame " << f;
  }
  EXPECT_TRUE(at::equal(ops::adaln_modulate(x.to(at::kFloat), scale.to(at::kFloat),
                                            shift.to(at::kFloat), ops::Rounding::kPerOp),
                        ops::adaln_modulate(x.to(at::kFloat), scale.to(at::kFloat),
                                            shift.to(at::kFloat))))
      << "fp32: the two modes are the same arithmetic";
}

TEST(FusedOps, RejectBadShapes) {
  EXPECT_THROW(ops::add_rms_norm(at::zeros({2, 4}), at::zeros({2, 5}), at::zeros({4}), 1e-6),
               InvalidArgument);
  EXPECT_THROW(ops::apply_rotary(at::zeros({1, 3, 2, 7}), at::zeros({3, 7}), at::zeros({3, 7})),
               InvalidArgument);  // odd head dim
  EXPECT_THROW(ops::apply_rotary(at::zeros({1, 3, 2, 8}), at::zeros({4, 8}), at::zeros({4, 8})),
               InvalidArgument);  // table length != tokens
  EXPECT_THROW(ops::gated_activation(at::zeros({3}), at::zeros({4}), ops::GateActivation::kSilu),
               InvalidArgument);
  EXPECT_THROW(ops::adaln_modulate(at::zeros({1, 10, 4}), at::zeros({1, 3, 4}),
                                   at::zeros({1, 3, 4})),
               InvalidArgument);  // 10 tokens do not split into 3 frames
}

// ---- GPU: kernels against the definitions ---------------------------------------------------

class FusedOpsCuda : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no GPU on this machine";
  }
};

// kernel(cuda inputs) vs reference(cpu inputs), both against `exact`.
void expect_within_rule(const at::Tensor& kernel_out, const at::Tensor& reference_out,
                        const at::Tensor& exact, const std::string& what) {
  ASSERT_EQ(kernel_out.sizes(), reference_out.sizes()) << what;
  ASSERT_EQ(kernel_out.scalar_type(), reference_out.scalar_type()) << what;
  ASSERT_TRUE(at::isfinite(kernel_out).all().item<bool>()) << what << ": NaN / unwritten output";
  const double out_err = testing_cuda::max_abs_diff(kernel_out, exact);
  const double ref_err = testing_cuda::max_abs_diff(reference_out, exact);
  // Floor: 8 fp32 ulp (2^-23) of the output scale. It matters only for fp32, where the kernels'
  // rsqrtf / expf / erff / tanhf (<= 2 ulp, CUDA programming guide) and the CPU's libm differ by
  // a few ulp while both errors are tiny; it is far below one fp16 / bf16 ulp (2^-11 / 2^-8).
  const double scale = exact.numel() == 0 ? 0.0 : f64(exact).abs().max().item<double>();
  const double floor = 8 * std::ldexp(1.0, -23) * scale + 1e-7;
  EXPECT_LE(out_err, 2 * ref_err + floor) << what << ": reference error " << ref_err;
}

TEST_P(FusedOpsCuda, AddRmsNorm) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(30);
  for (std::int64_t rows : {0, 1, 37}) {
    for (std::int64_t dim : {1, 80, 1280, 3584, 5000}) {
      const at::Tensor x = at::randn({rows, dim}).to(dtype), r = at::randn({rows, dim}).to(dtype);
      const at::Tensor w = at::randn({dim}).to(dtype);
      testing_cuda::poison_cuda_allocator(x.numel() * 4);
      const auto got = ops::add_rms_norm(x.cuda(), r.cuda(), w.cuda(), 1e-6);
      const auto ref = reference::add_rms_norm(x, r, w, 1e-6);
      const std::string what = std::to_string(rows) + "x" + std::to_string(dim);
      // The residual is one rounding of an exact sum in both: identical.
      EXPECT_TRUE(at::equal(got.residual.cpu(), ref.residual)) << what;
      expect_within_rule(got.out.cpu(), ref.out, rms_norm_fp64(ref.residual, w, 1e-6), what);
    }
  }
}

TEST_P(FusedOpsCuda, Rotary) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(31);
  for (const auto& [b, s, h, d, per_batch] :
       {std::tuple{1, 1, 1, 2, false}, {2, 77, 16, 128, false}, {3, 129, 28, 128, true},
        {1, 1000, 16, 80, false}, {2, 0, 4, 64, true}}) {
    const at::Tensor x = at::randn({b, s, h, d}).to(dtype);
    const at::Tensor angles = at::rand(per_batch ? std::vector<std::int64_t>{b, s, d}
                                                 : std::vector<std::int64_t>{s, d}) * 100;
    const at::Tensor cos = at::cos(angles), sin = at::sin(angles);
    testing_cuda::poison_cuda_allocator(x.numel() * 2);
    const at::Tensor got = ops::apply_rotary(x.cuda(), cos.cuda(), sin.cuda()).cpu();
    expect_within_rule(got, reference::apply_rotary(x, cos, sin), rotary_fp64(x, cos, sin),
                       "rotary " + std::to_string(s) + "x" + std::to_string(d));
  }
}

TEST_P(FusedOpsCuda, GatedActivations) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(32);
  for (std::int64_t n : {0, 1, 1000, 18944 * 3 + 1}) {
    const at::Tensor gate = (4 * at::randn({n})).to(dtype), up = at::randn({n}).to(dtype);
    for (const auto a : {ops::GateActivation::kSilu, ops::GateActivation::kGeluErf,
                         ops::GateActivation::kGeluTanh}) {
      testing_cuda::poison_cuda_allocator(n * 2);
      const at::Tensor got = ops::gated_activation(gate.cuda(), up.cuda(), a).cpu();
      expect_within_rule(got, reference::gated_activation(gate, up, a), gated_fp64(gate, up, a),
                         "gated " + std::to_string(n) + " act " + std::to_string(int(a)));
      // Per-op rounding (the models' mode): the reference's rounding points; only the
      // activation's own fp32 arithmetic (CUDA expf/erff/tanhf vs ATen's CPU ones) may move a
      // value across a rounding boundary, rarely and by one ulp.
      const at::Tensor per_op =
          ops::gated_activation(gate.cuda(), up.cuda(), a, ops::Rounding::kPerOp).cpu();
      const at::Tensor ref = reference::gated_activation(gate, up, a, ops::Rounding::kPerOp);
      if (n > 0) {
        EXPECT_GE(per_op.eq(ref).to(at::kDouble).mean().item<double>(), 0.99)
            << "gated per-op " << n << " act " << int(a);
      }
      expect_within_rule(per_op, ref, gated_fp64(gate, up, a),
                         "gated per-op " + std::to_string(n) + " act " + std::to_string(int(a)));
    }
  }
}

TEST_P(FusedOpsCuda, AdaLnModulate) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(33);
  for (const auto& [b, s, c, g] :
       {std::tuple{1, 1, 1, 0}, {2, 4096, 2048, 0}, {1, 2304 * 3, 2048, 3}, {2, 35, 7, 5}}) {
    const at::Tensor x = at::randn({b, s, c}).to(dtype);
    const auto mod_shape = g == 0 ? std::vector<std::int64_t>{b, c}
                                  : std::vector<std::int64_t>{b, g, c};
    const at::Tensor scale = (0.1 * at::randn(mod_shape)).to(dtype);
    const at::Tensor shift = at::randn(mod_shape).to(dtype);
    testing_cuda::poison_cuda_allocator(x.numel() * 2);
    const at::Tensor got = ops::adaln_modulate(x.cuda(), scale.cuda(), shift.cuda()).cpu();
    expect_within_rule(got, reference::adaln_modulate(x, scale, shift),
                       adaln_fp64(x, scale, shift), "adaln " + std::to_string(s));
    // Per-op rounding has no transcendental: the same roundings give the same bits.
    EXPECT_TRUE(at::equal(
        ops::adaln_modulate(x.cuda(), scale.cuda(), shift.cuda(), ops::Rounding::kPerOp).cpu(),
        reference::adaln_modulate(x, scale, shift, ops::Rounding::kPerOp)))
        << "adaln per-op " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedOpsCuda,
                         ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16));

}  // namespace
}  // namespace duogen
