// The DiT sampling loop (pipeline/latent_sampler.h) against whole reference runs on the tiny
// Cosmos DiT (tools/reference/dump_cosmos_dit_sampling.py): diffusers' Cosmos2_5 pipeline loop,
// Cosmos' own convention with packed frames, and Euler with the zero negative context.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "duogen/error.h"
#include "models/cosmos_dit/dit.h"
#include "pipeline/latent_sampler.h"
#include "testing/test_paths.h"
#include "verify/components.h"
#include "verify/reference_dump.h"
#include "verify/verifier.h"

namespace duogen::pipeline {
namespace {

std::filesystem::path tiny_dit() { return testing::data_dir() / "tiny-cosmos_dit"; }
std::filesystem::path golden(const std::string& name) {
  return testing::data_dir() / "reference" / ("cosmos_dit.sample." + name + ".safetensors");
}

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

// Runs the `cosmos_dit.sample` component on a golden's inputs with `edit` applied to its
// settings; returns the relative error against the golden's latent.
double error_with(const std::string& name,
                  const std::function<void(std::map<std::string, std::string>&)>& edit) {
  const auto dump = verify::ReferenceDump::load(golden(name));
  verify::ComponentContext ctx;
  ctx.model = tiny_dit();
  ctx.metadata = dump.metadata;
  edit(ctx.metadata);
  const auto registry = verify::build_component_registry();
  const auto out = registry.at("cosmos_dit.sample").run(ctx, dump.inputs);
  return rel_error(out.at("latent"), dump.expected.at("latent"));
}

// Within the dump's tolerance (3e-5: fp32 per-call rounding ~3e-7 amplified by CFG and the steps;
// see the dumper).
TEST(LatentSampler, WholeRunsMatchTheReferenceLoops) {
  for (const char* name : {"diffusers", "cosmos", "euler"}) {
    SCOPED_TRACE(name);
    verify::VerifyOptions options;
    options.model = tiny_dit();
    options.reference = golden(name);
    const auto report = verify::run_verify(options);  // both CFG branches batched (the default)
    ASSERT_EQ(report.outputs.size(), 1u);
    EXPECT_TRUE(report.outputs[0].shape_ok);
    EXPECT_LE(report.outputs[0].rel_error, 3e-5);
    EXPECT_TRUE(report.passed());
    const double separate = error_with(name, [](auto& m) { m["sampler.batch_cfg"] = "0"; });
    EXPECT_LE(separate, 3e-5);
    std::printf("  %-10s latent rel %.3g (branches as two calls: %.3g)  max_abs %.3g\n", name,
                report.outputs[0].rel_error, separate, report.outputs[0].max_abs_error);
  }
}

// One batch-2 call with stacked contexts of different lengths gives what two calls give, up to
// the rounding of GEMMs of another shape: fp32 ~1e-7 relative per call (bound 1e-6); a whole run
// multiplies the branch difference by 1 + g = 8 at every step (bound 1e-5).
TEST(LatentSampler, BatchedCfgEqualsTwoCalls) {
  c10::InferenceMode guard;
  const auto dit = cosmos_dit::CosmosDiT::load(tiny_dit(), {});
  at::manual_seed(5);
  const CfgContexts contexts = prepare_cfg_contexts(dit, at::randn({4, 9, 20}), 5, false);
  const std::vector<at::Tensor> conditions = {at::randn({1, 16, 1, 6, 8}),
                                              at::randn({1, 16, 1, 10, 4})};
  const at::Tensor noise = at::randn({1, 16, 1, 8, 12});

  const cosmos_dit::DitContext both =
      cosmos_dit::stack_contexts({&contexts.positive, &contexts.negative});
  const at::Tensor t = at::tensor({0.6f});
  const auto call = [&](const cosmos_dit::DitContext& ctx, std::int64_t batch) {
    return dit.velocity_packed({{conditions[0].expand({batch, -1, -1, -1, -1}), t, true},
                                {noise.expand({batch, -1, -1, -1, -1}), t, false}},
                               ctx);
  };
  const at::Tensor rows = call(both, 2);
  EXPECT_LE(rel_error(rows[0], call(contexts.positive, 1)[0]), 1e-6);
  EXPECT_LE(rel_error(rows[1], call(contexts.negative, 1)[0]), 1e-6);
  EXPECT_GT(rel_error(rows[0], rows[1]), 1e-3);  // the two contexts do differ
  EXPECT_THROW(call(both, 3), InvalidArgument);   // 2 stacked contexts, 3 rows

  LatentSamplerOptions options;
  options.sampler.schedule.steps = 3;
  const at::Tensor batched = sample_latent(dit, contexts, conditions, noise, options);
  options.batch_cfg = false;
  const at::Tensor separate = sample_latent(dit, contexts, conditions, noise, options);
  EXPECT_LE(rel_error(batched, separate), 1e-5);
  EXPECT_GT(rel_error(batched, noise), 1e-2);  // the run did something
}

// The goldens pin each setting: one step more, the other condition-frame timestep, the other
// negative context, formula or solver move x_0 far beyond the tolerance. The network-time
// conventions differ only by the timestep's truncation to 1/1000 (2e-4 to 3e-4 here), still ten
// times the tolerance and a hundred times the measured error.
TEST(LatentSampler, GoldensTellTheSettingsApart) {
  constexpr double kFar = 1e-3;
  constexpr double kBeyondTolerance = 5 * 3e-5;
  EXPECT_GT(error_with("diffusers", [](auto& m) { m["sampler.network_time"] = "timestep"; }),
            kBeyondTolerance);
  EXPECT_GT(error_with("diffusers", [](auto& m) { m["sampler.steps"] = "6"; }), kFar);
  EXPECT_GT(error_with("diffusers", [](auto& m) { m["sampler.condition_timestep"] = "same"; }),
            kFar);
  EXPECT_GT(error_with("cosmos", [](auto& m) { m["sampler.network_time"] = "sigma"; }),
            kBeyondTolerance);
  EXPECT_GT(error_with("cosmos", [](auto& m) { m["sampler.guidance"] = "6"; }), kFar);
  EXPECT_GT(error_with("euler", [](auto& m) { m["sampler.zero_negative"] = "0"; }), kFar);
  EXPECT_GT(error_with("euler", [](auto& m) { m["sampler.cfg_formula"] = "cosmos"; }), kFar);
  EXPECT_GT(error_with("euler", [](auto& m) { m["sampler.solver"] = "unipc"; }), kFar);
}

TEST(LatentSampler, BadSettingsAndInputsAreErrors) {
  try {
    error_with("cosmos", [](auto& m) { m.erase("sampler.steps"); });
    ADD_FAILURE() << "no error without sampler.steps";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'sampler.steps'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(error_with("cosmos", [](auto& m) { m["sampler.solver"] = "heun"; }), FormatError);
  EXPECT_THROW(error_with("cosmos", [](auto& m) { m["sampler.guidance"] = "7x"; }), FormatError);

  c10::InferenceMode guard;
  const auto dit = cosmos_dit::CosmosDiT::load(tiny_dit(), {});
  const at::Tensor hidden = at::randn({4, 6, 20});
  EXPECT_THROW(prepare_cfg_contexts(dit, hidden, 7, false), InvalidArgument);  // > tokens
  EXPECT_THROW(prepare_cfg_contexts(dit, hidden, 0, false), InvalidArgument);
  EXPECT_THROW(prepare_cfg_contexts(dit, hidden.flatten(0, 1), 3, false), InvalidArgument);
  const CfgContexts contexts = prepare_cfg_contexts(dit, hidden, 3, false);
  LatentSamplerOptions options;
  options.sampler.schedule.steps = 2;
  EXPECT_THROW(sample_latent(dit, contexts, {}, at::randn({1, 16, 8, 12}), options),
               InvalidArgument);  // the noise lacks the frame axis
  EXPECT_THROW(sample_latent(dit, contexts, {at::randn({1, 8, 1, 8, 8})},
                             at::randn({1, 16, 1, 8, 12}), options),
               InvalidArgument);  // a condition latent with the wrong channels
  const at::Tensor x0 = sample_latent(dit, contexts, {}, at::randn({1, 16, 1, 8, 12}), options);
  EXPECT_EQ(x0.sizes(), (std::vector<std::int64_t>{1, 16, 1, 8, 12}));
  EXPECT_TRUE(at::isfinite(x0).all().item<bool>());
}

}  // namespace
}  // namespace duogen::pipeline
