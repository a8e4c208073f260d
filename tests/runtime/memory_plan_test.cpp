// The memory planner on the tiny model written at test time (weights against sums taken here
// from the safetensors headers, the KV formula against the config read here, monotonicity) and on
// config-only descriptions with the real Qwen2.5-VL-7B / Cosmos-Predict2.5-2B / Wan2.1 shapes.
#include "runtime/memory_plan.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/safetensors.h"
#include "pipeline/manifest.h"
#include "runtime/byte_size.h"
#include "runtime/runtime_fixtures.h"

namespace duogen::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct HeaderSum {
  std::uint64_t bytes = 0;
  std::int64_t parameters = 0;
  std::uint64_t visual_bytes = 0;
};

// Sums every tensor of every .safetensors file in `dir`, floating ones at `float_bytes` each.
HeaderSum header_sum(const fs::path& dir, std::size_t float_bytes) {
  HeaderSum s;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    const auto file = io::SafetensorsFile::open(entry.path());
    for (const auto& t : file.tensors()) {
      const std::uint64_t b = static_cast<std::uint64_t>(t.numel()) *
                              (is_floating(t.dtype) ? float_bytes : element_size(t.dtype));
      s.bytes += b;
      s.parameters += t.numel();
      if (t.name.starts_with("visual.")) s.visual_bytes += b;
    }
  }
  return s;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

class TinyPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    manifest_ = new pipeline::ModelManifest(pipeline::read_manifest(testing::tiny_model_dir()));
    model_ = new ModelDescription(describe_model(*manifest_));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete manifest_;
  }
  static PlanOptions options(std::int64_t frames = 1) {
    PlanOptions o;
    o.target = {256, 256};
    o.condition_frames.assign(static_cast<std::size_t>(frames), ImageSize{256, 192});
    o.max_context = 512;
    return o;
  }
  static pipeline::ModelManifest* manifest_;
  static ModelDescription* model_;
};
pipeline::ModelManifest* TinyPlan::manifest_ = nullptr;
ModelDescription* TinyPlan::model_ = nullptr;

TEST_F(TinyPlan, WeightsEqualTheSumOfTheSafetensorsHeaders) {
  const MemoryPlan plan = plan_memory(*model_, options());
  const auto mllm = header_sum(manifest_->mllm, 2);
  const auto dit = header_sum(manifest_->dit, 2);
  const auto vae = header_sum(manifest_->vae, 2);
  ASSERT_GT(mllm.bytes, 0u);
  ASSERT_GT(mllm.visual_bytes, 0u);
  EXPECT_EQ(plan.component("mllm").weights, mllm.bytes);
  EXPECT_EQ(plan.component("mllm").parameters, mllm.parameters);
  EXPECT_EQ(plan.component("mllm").weight_parts.at(1).second, mllm.visual_bytes);  // vision
  EXPECT_EQ(plan.component("dit").weights, dit.bytes);
  EXPECT_EQ(plan.component("vae").weights, vae.bytes);
  EXPECT_EQ(plan.component("tokenizer").weights, 0u);
  EXPECT_EQ(plan.weights, mllm.bytes + dit.bytes + vae.bytes);
  EXPECT_FALSE(model_->mllm_weights.from_config);
  EXPECT_NE(plan.component("dit").source.find("checkpoint headers"), std::string::npos);
}

TEST_F(TinyPlan, Fp32DoublesAndFp16KeepsTheFloatingWeights) {
  PlanOptions o = options();
  o.dtype = c10::kFloat;
  const MemoryPlan fp32 = plan_memory(*model_, o);
  o.dtype = c10::kHalf;
  const MemoryPlan fp16 = plan_memory(*model_, o);
  const MemoryPlan bf16 = plan_memory(*model_, options());
  for (const char* c : {"mllm", "dit", "vae"}) {
    // Every tensor of the tiny model is floating, so the ratio is exact.
    EXPECT_EQ(fp32.component(c).weights, 2 * bf16.component(c).weights) << c;
    EXPECT_EQ(fp16.component(c).weights, bf16.component(c).weights) << c;
  }
  EXPECT_EQ(fp32.component("mllm").cache, 2 * bf16.component("mllm").cache);
  EXPECT_EQ(header_sum(manifest_->dit, 4).bytes, fp32.component("dit").weights);
}

TEST_F(TinyPlan, ConfigOnlyCensusMatchesTheCheckpoint) {
  // The config-only path builds the models on meta tensors; it must count exactly what the
  // checkpoint (written by the same loaders) holds.
  const ModelDescription from_configs = describe_configs(model_->mllm, model_->dit, model_->vae);
  EXPECT_TRUE(from_configs.mllm_weights.from_config);
  for (auto dtype : {c10::kBFloat16, c10::kFloat}) {
    EXPECT_EQ(from_configs.mllm_weights.bytes(dtype), model_->mllm_weights.bytes(dtype));
    EXPECT_EQ(from_configs.mllm_weights.part_bytes("vision", dtype),
              model_->mllm_weights.part_bytes("vision", dtype));
    EXPECT_EQ(from_configs.dit_weights.bytes(dtype), model_->dit_weights.bytes(dtype));
    EXPECT_EQ(from_configs.dit_weights.part_bytes("connector", dtype),
              model_->dit_weights.part_bytes("connector", dtype));
    EXPECT_EQ(from_configs.vae_weights.bytes(dtype), model_->vae_weights.bytes(dtype));
  }
  EXPECT_EQ(from_configs.mllm_weights.parameters(), model_->mllm_weights.parameters());
  EXPECT_EQ(from_configs.dit_weights.parameters(), model_->dit_weights.parameters());
  EXPECT_EQ(from_configs.vae_weights.parameters(), model_->vae_weights.parameters());
}

TEST_F(TinyPlan, KvCacheAndHiddenStatesFollowTheConfig) {
  const json config = read_json(manifest_->mllm / "config.json")["text_config"];
  const std::uint64_t layers = config["num_hidden_layers"].get<std::uint64_t>();
  const std::uint64_t hidden = config["hidden_size"].get<std::uint64_t>();
  const std::uint64_t heads = config["num_attention_heads"].get<std::uint64_t>();
  const std::uint64_t kv_heads = config["num_key_value_heads"].get<std::uint64_t>();
  for (std::int64_t tokens : {1, 512, 3000}) {
    PlanOptions o = options();
    o.max_context = tokens;
    const MemoryPlan plan = plan_memory(*model_, o);
    const ComponentPlan& mllm = plan.component("mllm");
    const std::uint64_t n = static_cast<std::uint64_t>(tokens);
    const std::uint64_t kv = layers * 2 * kv_heads * (hidden / heads) * n * 2;
    const std::uint64_t states = (layers + 1) * hidden * n * 2;
    EXPECT_EQ(mllm.cache_parts.at(0).second, kv) << tokens;
    EXPECT_EQ(mllm.cache_parts.at(1).second, states) << tokens;
    EXPECT_EQ(mllm.cache, kv + states) << tokens;
  }
}

TEST_F(TinyPlan, GrowsWithTokensSizeAndFrames) {
  const MemoryPlan base = plan_memory(*model_, options());
  {
    PlanOptions o = options();
    o.max_context *= 2;
    const MemoryPlan more = plan_memory(*model_, o);
    EXPECT_GT(more.component("mllm").cache, base.component("mllm").cache);
    EXPECT_GT(more.component("mllm").activation_parts.at(0).second,  // prefill
              base.component("mllm").activation_parts.at(0).second);
    EXPECT_GT(more.component("dit").activation_parts.at(0).second,  // connector
              base.component("dit").activation_parts.at(0).second);
    EXPECT_GT(more.component("dit").cache, base.component("dit").cache);
    EXPECT_GT(more.all_resident, base.all_resident);
  }
  {
    PlanOptions o = options();
    o.target = {512, 384};
    const MemoryPlan bigger = plan_memory(*model_, o);
    EXPECT_GT(bigger.component("dit").activation_parts.at(1).second,
              base.component("dit").activation_parts.at(1).second);
    EXPECT_GT(bigger.component("vae").activation_parts.at(0).second,
              base.component("vae").activation_parts.at(0).second);
    EXPECT_GE(bigger.all_resident, base.all_resident);
  }
  std::uint64_t last_step = 0;
  std::uint64_t last_total = 0;
  for (std::int64_t k = 0; k <= 4; ++k) {
    const MemoryPlan p = plan_memory(*model_, options(k));
    const std::uint64_t step = p.component("dit").activation_parts.at(1).second;
    EXPECT_GT(step, last_step) << k;
    EXPECT_GE(p.all_resident, last_total) << k;
    last_step = step;
    last_total = p.all_resident;
  }
  // Weights never depend on the run.
  EXPECT_EQ(plan_memory(*model_, options(4)).weights, base.weights);
}

TEST_F(TinyPlan, CpuAttentionAddsTheScoreMatrix) {
  PlanOptions o = options(2);
  const MemoryPlan gpu = plan_memory(*model_, o);
  o.cpu = true;
  const MemoryPlan cpu = plan_memory(*model_, o);
  // DiT self-attention over S = 2 frames of 256x192 + the 256x256 target, 2 CFG branches:
  // at least B * heads * S^2 fp32 scores more.
  const std::uint64_t s = 2 * (16 * 12) + 16 * 16;
  const std::uint64_t heads = static_cast<std::uint64_t>(model_->dit.num_attention_heads);
  EXPECT_GE(cpu.component("dit").activation_parts.at(1).second,
            gpu.component("dit").activation_parts.at(1).second + 2 * heads * s * s * 4);
  EXPECT_GT(cpu.component("mllm").activations, gpu.component("mllm").activations);
  EXPECT_EQ(cpu.weights, gpu.weights);
}

TEST_F(TinyPlan, TotalsAndVerdicts) {
  const MemoryPlan plan = plan_memory(*model_, options(2));
  // The DiT's context K/V lives per image, the MLLM's caches for the run.
  const auto& mllm = plan.component("mllm");
  const auto& dit = plan.component("dit");
  const auto& vae = plan.component("vae");
  EXPECT_FALSE(mllm.cache_per_image);
  EXPECT_TRUE(dit.cache_per_image);
  const std::uint64_t weights = mllm.weights + dit.weights + vae.weights;
  const std::uint64_t working =
      std::max({mllm.activations, dit.activations + dit.cache, vae.activations});
  const std::uint64_t unit =
      std::max({mllm.weights + mllm.activations, dit.weights + dit.activations + dit.cache,
                vae.weights + vae.activations});
  EXPECT_EQ(plan.run_caches, mllm.cache);
  EXPECT_EQ(plan.all_resident, weights + mllm.cache + working);
  EXPECT_EQ(plan.offload_device_peak, unit + mllm.cache);
  EXPECT_EQ(plan.pinned_host, weights);
  ASSERT_LT(plan.offload_device_peak, plan.all_resident);

  const auto resident = judge_budget(*model_, plan, plan.all_resident);
  EXPECT_EQ(resident.fit, Fit::kResident);
  EXPECT_EQ(resident.headroom, 0u);
  EXPECT_GE(resident.max_frames_resident, 2);
  const auto offload = judge_budget(*model_, plan, plan.all_resident - 1);
  EXPECT_EQ(offload.fit, Fit::kOffload);
  EXPECT_EQ(offload.needed, plan.offload_device_peak);
  EXPECT_EQ(offload.headroom, plan.all_resident - 1 - plan.offload_device_peak);
  EXPECT_LT(offload.max_frames_resident, 2);  // 2 frames just miss; no term shrinks with frames
  const auto none = judge_budget(*model_, plan, plan.offload_device_peak - 1000);
  EXPECT_EQ(none.fit, Fit::kNone);
  EXPECT_EQ(none.shortfall, 1000u);
  EXPECT_LT(none.max_frames_offload, 2);

  PlanOptions o = options(2);
  o.reserve = 12345;
  const MemoryPlan reserved = plan_memory(*model_, o);
  EXPECT_EQ(reserved.all_resident, plan.all_resident + 12345);
  EXPECT_EQ(reserved.offload_device_peak, plan.offload_device_peak + 12345);
}

TEST_F(TinyPlan, JsonCarriesTheTable) {
  const MemoryPlan plan = plan_memory(*model_, options());
  const json j = plan_to_json(plan, judge_budget(*model_, plan, 1ull << 30));
  ASSERT_EQ(j["components"].size(), 4u);
  EXPECT_EQ(j["components"][0]["name"], "mllm");
  EXPECT_EQ(j["components"][0]["weights"].get<std::uint64_t>(), plan.component("mllm").weights);
  EXPECT_EQ(j["totals"]["all_resident"].get<std::uint64_t>(), plan.all_resident);
  EXPECT_EQ(j["verdict"]["fit"], "fits resident");
  const std::string text = plan_to_text(plan, std::nullopt);
  EXPECT_NE(text.find("all resident"), std::string::npos);
  EXPECT_NE(text.find(format_bytes(plan.all_resident)), std::string::npos);
}

TEST_F(TinyPlan, RejectsBadOptions) {
  PlanOptions o = options();
  o.max_context = 0;
  EXPECT_THROW(plan_memory(*model_, o), InvalidArgument);
  o = options();
  o.target = {0, 256};
  EXPECT_THROW(plan_memory(*model_, o), InvalidArgument);
  o = options();
  o.condition_frames = {{-1, 4}};
  EXPECT_THROW(plan_memory(*model_, o), InvalidArgument);
}

// The real shapes, counted from configs alone. Expected parameter counts are the published ones
// (architecture.md §1.1: Qwen2.5-VL-7B ≈ 8.29B with a 675M ViT; §8.1: Cosmos-Predict2.5-2B
// ≈ 2.059B with a 102.8M crossattn_proj), compared to the rounding they are published with.
class RealPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ =
        new ModelDescription(describe_model(pipeline::read_manifest(testing::real_config_dir())));
  }
  static void TearDownTestSuite() { delete model_; }
  static PlanOptions options(std::int64_t frames) {
    PlanOptions o;
    o.condition_frames.assign(static_cast<std::size_t>(frames), ImageSize{768, 768});
    return o;
  }
  static ModelDescription* model_;
};
ModelDescription* RealPlan::model_ = nullptr;

TEST_F(RealPlan, ParameterCountsMatchThePublishedSizes) {
  ASSERT_TRUE(model_->mllm_weights.from_config);
  const auto& mllm = model_->mllm_weights;
  const double vision = static_cast<double>(mllm.parts.at("vision").floating);
  EXPECT_NEAR(static_cast<double>(mllm.parameters()), 8.29e9, 0.005e9);
  // "675M" is a rounded figure in the model card's prose; within 0.5 %.
  EXPECT_NEAR(vision, 675e6, 3.4e6);
  const auto& dit = model_->dit_weights;
  EXPECT_NEAR(static_cast<double>(dit.parameters()), 2.059e9, 0.0005e9);
  EXPECT_NEAR(static_cast<double>(dit.parts.at("connector").floating), 102.8e6, 0.05e6);
  // bf16: two bytes per parameter.
  EXPECT_EQ(mllm.bytes(c10::kBFloat16), 2 * static_cast<std::uint64_t>(mllm.parameters()));
}

TEST_F(RealPlan, FitsEightyGigabytesResidentAndTwentyFourWithOffload) {
  for (std::int64_t frames : {0, 1, 3}) {
    const MemoryPlan plan = plan_memory(*model_, options(frames));
    const auto big = judge_budget(*model_, plan, parse_byte_size("80GB"));
    EXPECT_EQ(big.fit, Fit::kResident) << frames;
    EXPECT_GE(big.max_frames_resident, 3) << frames;
    // 24 GB = 22.35 GiB holds 19.5 GiB of bf16 weights with little room: the offload peak is the
    // MLLM alone plus the caches.
    const auto small = judge_budget(*model_, plan, parse_byte_size("24GB"));
    EXPECT_NE(small.fit, Fit::kNone) << frames;
    EXPECT_LT(plan.offload_device_peak, plan.all_resident) << frames;
    EXPECT_EQ(plan.offload_peak_component, "mllm") << frames;
  }
}

}  // namespace
}  // namespace duogen::runtime
