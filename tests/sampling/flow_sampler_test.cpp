// Flow-matching sampler: schedules, Euler and UniPC runs, CFG, condition-frame
// timesteps and noise, against tests/data/reference/flow_sampler.safetensors (written by
// tools/reference/dump_flow_sampler.py from diffusers' schedulers, Cosmos' schedule formulas,
// numpy's RandomState and torch.randn).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "duogen/error.h"
#include "io/safetensors.h"
#include "sampling/flow/conditioning.h"
#include "sampling/flow/guidance.h"
#include "sampling/flow/noise.h"
#include "sampling/flow/sampler.h"
#include "sampling/flow/schedule.h"
#include "sampling/flow/unipc_stepper.h"
#include "testing/test_paths.h"

namespace duogen::sampling::flow {
namespace {

const io::SafetensorsFile& golden() {
  static const io::SafetensorsFile file =
      io::SafetensorsFile::open(testing::data_dir() / "reference" / "flow_sampler.safetensors");
  return file;
}
at::Tensor g(const std::string& name) { return golden().tensor(name).clone(); }

std::string shift_tag(double shift) {
  std::string s = std::to_string(shift);  // the dump names shifts with Python's :g
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

ScheduleOptions linear(int steps, double shift) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kLinearShift;
  o.steps = steps;
  o.shift = shift;
  return o;
}

ScheduleOptions karras(int steps) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kKarras;
  o.steps = steps;
  return o;
}

void expect_schedule_equal(const FlowSchedule& s, const std::string& key) {
  SCOPED_TRACE(key);
  const at::Tensor sigmas = g(key + ".sigmas");
  const at::Tensor timesteps = g(key + ".timesteps");
  ASSERT_EQ(static_cast<std::int64_t>(s.sigmas.size()), sigmas.numel());
  ASSERT_EQ(static_cast<std::int64_t>(s.timesteps.size()), timesteps.numel());
  // Exact: the same float64 operations as numpy, then one rounding to float32.
  for (std::int64_t i = 0; i < sigmas.numel(); ++i) {
    EXPECT_EQ(s.sigmas[static_cast<std::size_t>(i)], sigmas[i].item<float>()) << "sigma " << i;
  }
  for (std::int64_t i = 0; i < timesteps.numel(); ++i) {
    EXPECT_EQ(s.timesteps[static_cast<std::size_t>(i)], timesteps[i].item<std::int64_t>())
        << "timestep " << i;
  }
}

TEST(FlowSchedule, LinearShiftMatchesCosmos) {
  for (const auto& [n, shift] : std::vector<std::pair<int, double>>{
           {35, 5.0}, {12, 5.0}, {7, 1.0}, {2, 5.0}, {1, 5.0}, {50, 3.0}, {20, 7.5}}) {
    expect_schedule_equal(make_schedule(linear(n, shift)),
                          "schedule.linear.n" + std::to_string(n) + ".s" + shift_tag(shift));
  }
}

TEST(FlowSchedule, KarrasMatchesCosmosAndDiffusers) {
  for (const int n : {35, 10, 4}) {
    const FlowSchedule s = make_schedule(karras(n));
    EXPECT_EQ(s.num_evaluations(), n + 1);  // Karras evaluates n + 1 times
    expect_schedule_equal(s, "schedule.karras.n" + std::to_string(n));
    // diffusers' UniPCMultistepScheduler(use_karras_sigmas, use_flow_sigmas) with n + 1 steps.
    expect_schedule_equal(s, "schedule.diffusers_karras.n" + std::to_string(n + 1));
  }
}

TEST(FlowSchedule, RejectsBadOptions) {
  EXPECT_THROW(make_schedule(linear(0, 5.0)), InvalidArgument);
  EXPECT_THROW(make_schedule(linear(-3, 5.0)), InvalidArgument);
  EXPECT_THROW(make_schedule(linear(10, 0.0)), InvalidArgument);
  EXPECT_THROW(make_schedule(linear(10, -1.0)), InvalidArgument);
  EXPECT_THROW(make_schedule(linear(10, std::nan(""))), InvalidArgument);
  EXPECT_THROW(make_schedule(karras(0)), InvalidArgument);
  ScheduleOptions bad_range = linear(10, 1.0);
  bad_range.sigma_max = 1.5;
  EXPECT_THROW(make_schedule(bad_range), InvalidArgument);
  bad_range.sigma_max = 0.2;
  bad_range.sigma_min = 0.3;
  EXPECT_THROW(make_schedule(bad_range), InvalidArgument);
  ScheduleOptions bad_karras = karras(10);
  bad_karras.karras_sigma_min = 0.0;
  EXPECT_THROW(make_schedule(bad_karras), InvalidArgument);
  try {
    make_schedule(linear(0, 5.0));
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("steps"), std::string::npos) << e.what();
  }
}

// The synthetic model of the dump: v = tanh(a*x + b*sigma), both branches.
VelocityFn tanh_model(const std::string& a_name, const std::string& b_name) {
  const double a = g("run.model." + a_name).item<double>();
  const double b = g("run.model." + b_name).item<double>();
  return [a, b](const at::Tensor& x, const StepContext& step) {
    return at::tanh(x * a + b * step.sigma);
  };
}

struct RunCase {
  std::string name;  // golden key part
  SolverKind solver;
  ScheduleOptions schedule;
  double guidance;  // 0: the conditional branch alone
  UniPcOptions unipc = {};
  // diffusers' bh1 ends in NaN: its last (order-1) predictor computes B(h) * 0 with B(h) = h = -inf
  // at sigma = 0 (scheduling_unipc_multistep.py, multistep_uni_p_bh_update: `alpha_t * B_h *
  // pred_res` with pred_res = 0). duogen drops the term and returns m; the last state is skipped.
  bool reference_ends_in_nan = false;
};

UniPcOptions bh1() {
  UniPcOptions o;
  o.variant = UniPcVariant::kBh1;
  return o;
}
UniPcOptions order1() {
  UniPcOptions o;
  o.order = 1;
  return o;
}
UniPcOptions no_corrector() {
  UniPcOptions o;
  o.disable_corrector = {0, 3};
  return o;
}

std::vector<RunCase> run_cases() {
  return {
      {"euler.linear.n12.s5", SolverKind::kEuler, linear(12, 5.0), 0.0},
      {"unipc.linear.n12.s5", SolverKind::kUniPC, linear(12, 5.0), 0.0},
      {"unipc.linear.n35.s5", SolverKind::kUniPC, linear(35, 5.0), 0.0},
      {"unipc.linear.n7.s1", SolverKind::kUniPC, linear(7, 1.0), 0.0},
      {"unipc.linear.n2.s5", SolverKind::kUniPC, linear(2, 5.0), 0.0},
      {"unipc.linear.n1.s5", SolverKind::kUniPC, linear(1, 5.0), 0.0},
      {"unipc.karras.n10", SolverKind::kUniPC, karras(10), 0.0},
      {"euler.karras.n10", SolverKind::kEuler, karras(10), 0.0},
      {"unipc.linear.n12.s5.cfg3", SolverKind::kUniPC, linear(12, 5.0), 3.0},
      {"euler.linear.n12.s5.cfg3", SolverKind::kEuler, linear(12, 5.0), 3.0},
      {"unipc_bh1.linear.n12.s5", SolverKind::kUniPC, linear(12, 5.0), 0.0, bh1(), true},
      {"unipc_o1.linear.n12.s5", SolverKind::kUniPC, linear(12, 5.0), 0.0, order1()},
      {"unipc_nocorr.linear.n12.s5", SolverKind::kUniPC, linear(12, 5.0), 0.0, no_corrector()},
  };
}

std::string sci(double value) {
  std::ostringstream out;
  out << std::scientific << std::setprecision(2) << value;
  return out.str();
}

// Max over the trajectory of |duogen - reference| / max|reference| at that step.
double run_and_compare(const RunCase& c, at::ScalarType dtype, const std::string& key) {
  const at::Tensor expected = g(key);
  SamplerOptions options;
  options.schedule = c.schedule;
  options.solver = c.solver;
  options.cfg.guidance = c.guidance;
  options.unipc = c.unipc;
  std::vector<at::Tensor> trajectory{g("run.x_T").to(dtype)};
  const auto record = [&](const StepContext&, const at::Tensor& x) {
    trajectory.push_back(x.clone());
  };
  const at::Tensor x0 =
      sample_cfg(trajectory[0], tanh_model("a", "b"), tanh_model("a_u", "b_u"), options, record);
  EXPECT_EQ(x0.scalar_type(), dtype);
  EXPECT_EQ(static_cast<std::int64_t>(trajectory.size()), expected.size(0));
  EXPECT_TRUE(at::isfinite(x0).all().item<bool>()) << c.name;
  std::size_t compared = std::min(trajectory.size(), static_cast<std::size_t>(expected.size(0)));
  if (c.reference_ends_in_nan) {
    EXPECT_TRUE(at::isnan(expected[expected.size(0) - 1]).all().item<bool>()) << c.name;
    --compared;
  }
  double worst = 0.0;
  for (std::size_t i = 0; i < compared; ++i) {
    const at::Tensor ref = expected[static_cast<std::int64_t>(i)].to(at::kDouble);
    const double err = (trajectory[i].to(at::kDouble) - ref).abs().max().item<double>() /
                       ref.abs().max().item<double>();
    if (!std::isfinite(err)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, err);
  }
  EXPECT_TRUE(at::equal(x0, trajectory.back()));
  return worst;
}

TEST(FlowSampler, Float32RunsMatchDiffusers) {
  for (const RunCase& c : run_cases()) {
    const double err = run_and_compare(c, at::kFloat, "run." + c.name + ".f32");
    // diffusers computes the solver's scalar coefficients in float32 (0-d float32 tensors);
    // duogen in float64. The reference's own fp32-vs-fp64 drift over these runs is <= 3e-7
    // relative (measured from the goldens), so 2e-6 leaves ~7x margin and still catches any
    // algorithmic slip (those move results by >= 1e-3).
    if (c.solver == SolverKind::kEuler) {
      // Euler's dt is exact in float64 and rounds once to float32, like the reference's float32
      // subtraction, and the two tensor ops are the reference's: bit-exact where the goldens were
      // made. The synthetic model's at::tanh is vectorised per CPU (ATen's AVX2 and AVX-512
      // kernels round differently by an ulp), so on another CPU the trajectory drifts by a few
      // float32 ulps: measured 7.6e-8 on an AVX-512 Xeon; 5e-7 bounds that and stays far below
      // any real slip (>= 1e-3).
      EXPECT_LE(err, 5e-7) << c.name;
    } else {
      EXPECT_LE(err, 2e-6) << c.name;
    }
    RecordProperty(c.name + ".f32", sci(err));
  }
}

TEST(FlowSampler, Float64RunsMatchDiffusersInFloat64) {
  for (const RunCase& c : run_cases()) {
    if (c.solver != SolverKind::kUniPC) continue;  // diffusers' Euler always steps in float32
    const double err = run_and_compare(c, at::kDouble, "run." + c.name + ".f64");
    // Both sides run the recursion in float64 from the same float32 sigma table; only operation
    // order differs (e.g. 2x2 solve in closed form vs LAPACK): ~1e-15, 35 steps deep.
    EXPECT_LE(err, 1e-12) << c.name;
    RecordProperty(c.name + ".f64", sci(err));
  }
}

TEST(FlowSampler, UniPcOrderProgression) {
  // Order 1 at the first step (no history) and, with lower_order_final, at the last one.
  for (const int n : {1, 2, 3, 12}) {
    UniPcStepper stepper(make_schedule(linear(n, 5.0)), UniPcOptions{});
    at::Tensor x = at::ones({3}, at::kDouble);
    std::vector<int> orders;
    for (int i = 0; i < n; ++i) {
      x = stepper.step(x, at::tanh(x));
      orders.push_back(stepper.last_order());
    }
    std::vector<int> want(static_cast<std::size_t>(n), 2);
    want.front() = 1;
    want.back() = 1;
    EXPECT_EQ(orders, want) << "n=" << n;
    EXPECT_THROW(stepper.step(x, x), InvalidArgument);  // the schedule is exhausted
  }
}

TEST(FlowSampler, LastStepReturnsTheX0Prediction) {
  // sigma_E = 0: the final step returns m = x - sigma * v exactly (architecture.md §14.7). UniPC
  // corrects x first, so its corrector is switched off at the last step to expose that identity.
  const FlowSchedule s = make_schedule(linear(5, 5.0));
  const int last = s.num_evaluations() - 1;
  UniPcOptions no_last_corrector;
  no_last_corrector.disable_corrector = {last - 1};
  for (const SolverKind kind : {SolverKind::kEuler, SolverKind::kUniPC}) {
    auto stepper = make_stepper(kind, s, no_last_corrector);
    at::Tensor x = at::linspace(-1.0, 1.0, 7, at::kDouble);
    for (int i = 0; i < last; ++i) x = stepper->step(x, at::sin(x));
    const at::Tensor v = at::sin(x);
    const double sigma = s.sigmas[static_cast<std::size_t>(last)];
    EXPECT_TRUE(at::allclose(stepper->step(x, v), x - v * sigma, 0, 1e-15))
        << static_cast<int>(kind);
  }
}

TEST(FlowSampler, RejectsBadInputs) {
  SamplerOptions options;
  options.schedule = linear(4, 5.0);
  const VelocityFn ok = [](const at::Tensor& x, const StepContext&) { return at::tanh(x); };
  const at::Tensor x_T = at::randn({2, 3});
  options.schedule.steps = 0;
  EXPECT_THROW(sample(x_T, ok, options), InvalidArgument);
  options.schedule.steps = 4;
  EXPECT_THROW(sample(x_T, VelocityFn{}, options), InvalidArgument);
  EXPECT_THROW(sample(x_T.to(at::kInt), ok, options), InvalidArgument);
  EXPECT_THROW(sample(x_T.to(at::kBFloat16), ok, options), InvalidArgument);
  const VelocityFn wrong_shape = [](const at::Tensor& x, const StepContext& step) {
    return step.index == 2 ? at::zeros({x.size(0), x.size(1) + 1}) : at::tanh(x);
  };
  try {
    sample(x_T, wrong_shape, options);
    ADD_FAILURE() << "a wrong velocity shape was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("step 2"), std::string::npos) << e.what();
  }
  options.unipc.order = 3;
  EXPECT_THROW(sample(x_T, ok, options), InvalidArgument);
  options.unipc.order = 2;
  // UniPC needs 0 < sigma < 1 at every evaluation (lambda finite).
  ScheduleOptions to_one = linear(4, 1.0);
  to_one.sigma_max = 1.0;
  options.schedule = to_one;
  EXPECT_THROW(sample(x_T, ok, options), InvalidArgument);
  options.solver = SolverKind::kEuler;  // Euler is fine with sigma_0 = 1
  EXPECT_TRUE(at::isfinite(sample(x_T, ok, options)).all().item<bool>());
}

TEST(FlowSampler, ConvertsTheVelocityDtypeAndReportsSteps) {
  SamplerOptions options;
  options.schedule = linear(6, 5.0);
  const at::Tensor x_T = g("run.x_T").to(at::kFloat);
  // A bf16 "network": the sampler widens its output to the float32 state, as Cosmos' .float().
  const VelocityFn bf16 = [](const at::Tensor& x, const StepContext& step) {
    return at::tanh(x * 0.8 - 1.3 * step.sigma).to(at::kBFloat16);
  };
  const VelocityFn widened = [&](const at::Tensor& x, const StepContext& step) {
    return bf16(x, step).to(at::kFloat);
  };
  std::vector<StepContext> steps;
  const at::Tensor a = sample(x_T, bf16, options,
                              [&](const StepContext& s, const at::Tensor&) { steps.push_back(s); });
  EXPECT_TRUE(at::equal(a, sample(x_T, widened, options)));
  const FlowSchedule schedule = make_schedule(options.schedule);
  ASSERT_EQ(static_cast<int>(steps.size()), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(steps[static_cast<std::size_t>(i)].index, i);
    EXPECT_EQ(steps[static_cast<std::size_t>(i)].num_steps, 6);
    EXPECT_EQ(steps[static_cast<std::size_t>(i)].sigma,
              schedule.sigmas[static_cast<std::size_t>(i)]);
    EXPECT_EQ(steps[static_cast<std::size_t>(i)].timestep,
              schedule.timesteps[static_cast<std::size_t>(i)]);
  }
}

TEST(Cfg, CombinesAsCosmosAndSkipsTheUnusedBranch) {
  const at::Tensor vc = at::randn({4, 5});
  const at::Tensor vu = at::randn({4, 5});
  CfgOptions cosmos{3.0, CfgFormula::kCosmos};
  EXPECT_TRUE(at::equal(cfg_combine(vc, vu, cosmos), vc + (vc - vu) * 3.0));
  CfgOptions standard{4.0, CfgFormula::kStandard};  // w = g + 1
  EXPECT_TRUE(at::allclose(cfg_combine(vc, vu, standard), cfg_combine(vc, vu, cosmos), 1e-6, 1e-6));
  EXPECT_TRUE(at::equal(cfg_combine(vc, vu, {0.0, CfgFormula::kCosmos}), vc));
  EXPECT_FALSE(cfg_needs_uncond({0.0, CfgFormula::kCosmos}));
  EXPECT_FALSE(cfg_needs_uncond({1.0, CfgFormula::kStandard}));
  EXPECT_TRUE(cfg_needs_uncond({1.0, CfgFormula::kCosmos}));

  int uncond_calls = 0;
  const VelocityFn cond = [](const at::Tensor& x, const StepContext&) { return x * 2.0; };
  const VelocityFn uncond = [&](const at::Tensor& x, const StepContext&) {
    ++uncond_calls;
    return x;
  };
  const at::Tensor x = at::ones({3});
  EXPECT_TRUE(
      at::equal(make_cfg_velocity(cond, uncond, {0.0, CfgFormula::kCosmos})(x, {}), x * 2.0));
  EXPECT_EQ(uncond_calls, 0);
  EXPECT_TRUE(at::equal(make_cfg_velocity(cond, uncond, {2.0, CfgFormula::kCosmos})(x, {}),
                        x * 2.0 + (x * 2.0 - x) * 2.0));
  EXPECT_EQ(uncond_calls, 1);
  // No unconditional branch is fine when it is not needed.
  EXPECT_NO_THROW(make_cfg_velocity(cond, VelocityFn{}, {0.0, CfgFormula::kCosmos}));

  EXPECT_THROW(make_cfg_velocity(cond, VelocityFn{}, {7.0, CfgFormula::kCosmos}), InvalidArgument);
  EXPECT_THROW(cfg_combine(vc, vu, {-1.0, CfgFormula::kCosmos}), InvalidArgument);
  EXPECT_THROW(cfg_combine(vc, vu, {std::nan(""), CfgFormula::kCosmos}), InvalidArgument);
  EXPECT_THROW(cfg_combine(vc, at::randn({4, 6}), cosmos), InvalidArgument);
  EXPECT_THROW(cfg_combine(vc, vu.to(at::kDouble), cosmos), InvalidArgument);
}

TEST(FrameTimesteps, SameOrFixedForConditionFrames) {
  const std::vector<bool> frames{true, true, false};
  ConditionFrameOptions same;
  EXPECT_TRUE(at::equal(frame_timesteps(frames, 0.75, same), at::full({3}, 0.75F)));
  ConditionFrameOptions fixed{ConditionFrameTimestep::kFixed, 1e-4};
  const at::Tensor t = frame_timesteps(frames, 0.75, fixed);
  EXPECT_EQ(t.scalar_type(), at::kFloat);
  EXPECT_EQ(t[0].item<float>(), static_cast<float>(1e-4));
  EXPECT_EQ(t[1].item<float>(), static_cast<float>(1e-4));
  EXPECT_EQ(t[2].item<float>(), 0.75F);
  EXPECT_EQ(frame_timesteps(frames, 0.75, fixed, at::kDouble)[0].item<double>(), 1e-4);
  EXPECT_THROW(frame_timesteps({}, 0.5, same), InvalidArgument);
  EXPECT_THROW(frame_timesteps(frames, std::nan(""), same), InvalidArgument);
  EXPECT_THROW(frame_timesteps(frames, 0.5, {ConditionFrameTimestep::kFixed, -1.0}),
               InvalidArgument);
}

TEST(Noise, NumpyLegacyGaussianIsBitExact) {
  for (const auto& [seed, shape] : std::vector<std::pair<std::int64_t, std::vector<std::int64_t>>>{
           {1, {1, 16, 1, 6, 5}}, {0, {7}}, {4294967295LL, {3, 11}}, {123456789, {2, 3}}}) {
    const at::Tensor want = g("noise.numpy.seed" + std::to_string(seed));
    const at::Tensor got = NumpyRandomState(seed).standard_normal(shape);
    EXPECT_TRUE(at::equal(got, want)) << "seed " << seed;
    // Cosmos' float32 noise is the float64 draw rounded once.
    EXPECT_TRUE(at::equal(numpy_noise(shape, seed), want.to(at::kFloat))) << "seed " << seed;
  }
  const at::Tensor key = g("noise.numpy.key");
  std::vector<std::int64_t> words(key.data_ptr<std::int64_t>(),
                                  key.data_ptr<std::int64_t>() + key.numel());
  EXPECT_TRUE(
      at::equal(NumpyRandomState(words).standard_normal({5, 7}), g("noise.numpy.array_seed")));
  // The cached second Gaussian carries over between calls.
  NumpyRandomState split(5);
  const at::Tensor first = split.standard_normal({3});
  const at::Tensor second = split.standard_normal({4});
  EXPECT_TRUE(at::equal(at::cat({first, second}), g("noise.numpy.seed5.split")));

  EXPECT_THROW(NumpyRandomState(-1), InvalidArgument);
  EXPECT_THROW(NumpyRandomState(4294967296LL), InvalidArgument);
  EXPECT_THROW(NumpyRandomState(std::vector<std::int64_t>{}), InvalidArgument);
  EXPECT_THROW(NumpyRandomState(std::vector<std::int64_t>{1, -2}), InvalidArgument);
}

TEST(Noise, TorchRandnIsExact) {
  struct Case {
    std::uint64_t seed;
    std::vector<std::int64_t> shape;
    at::ScalarType dtype;
  };
  for (const Case& c : std::vector<Case>{{42, {7}, at::kFloat},
                                         {42, {2, 16, 1, 3, 5}, at::kFloat},
                                         {1, {3, 17}, at::kDouble},
                                         {0, {1, 16, 1, 4, 4}, at::kFloat}}) {
    std::ostringstream name;
    name << "noise.torch.seed" << c.seed << ".";
    for (std::size_t k = 0; k < c.shape.size(); ++k) name << (k == 0 ? "" : "x") << c.shape[k];
    name << (c.dtype == at::kFloat ? ".f32" : ".f64");
    const std::string key = name.str();
    EXPECT_TRUE(at::equal(torch_noise(c.shape, c.seed, c.dtype), g(key))) << key;
  }
}

}  // namespace
}  // namespace duogen::sampling::flow
