// The planner's persistent-state formulas against the tensors the engine really keeps, on the
// tiny model: the all-layer hidden states QwenConversation holds per token, and the prepared DiT
// context (connector output + every block's k/v) reused across sampling steps.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "models/cosmos_dit/dit.h"
#include "pipeline/manifest.h"
#include "pipeline/qwen_conversation.h"
#include "runtime/activations.h"
#include "runtime/memory_plan.h"
#include "runtime/runtime_fixtures.h"

namespace duogen::runtime {
namespace {

TEST(PlanVsEngine, HiddenStatesKeptPerTokenMatchThePlan) {
  c10::InferenceMode guard;
  const auto manifest = pipeline::read_manifest(testing::tiny_model_dir());
  pipeline::QwenConversation mllm(manifest, {});  // fp32
  pipeline::Message m{"user", {}};
  pipeline::ContentPart text;
  text.text = "How much memory do the hidden states take?";
  m.content.push_back(text);
  mllm.start({m}, 0);
  const std::int64_t n = mllm.length();
  ASSERT_GT(n, 5);
  const at::Tensor kept = mllm.hidden_states(n);

  PlanOptions options;
  options.dtype = c10::kFloat;
  options.max_context = n;
  const MemoryPlan plan = plan_memory(describe_model(manifest), options);
  const auto& cache = plan.component("mllm").cache_parts;
  ASSERT_EQ(cache.at(1).first, "hidden_states");
  EXPECT_EQ(cache.at(1).second, static_cast<std::uint64_t>(kept.nbytes()));
}

TEST(PlanVsEngine, PreparedDitContextMatchesThePlan) {
  c10::InferenceMode guard;
  const auto manifest = pipeline::read_manifest(testing::tiny_model_dir());
  const ModelDescription model = describe_model(manifest);
  const auto dit = cosmos_dit::CosmosDiT::load(manifest.dit, {});  // fp32
  const std::int64_t tokens = 37;
  const auto& text = model.mllm.text;
  // What QwenConversation hands over: [layers + 1, L, H] (the embedding output included).
  const at::Tensor hidden =
      at::randn({text.num_hidden_layers + 1, tokens, text.hidden_size}, at::kFloat);
  const cosmos_dit::DitContext context = dit.prepare_context_from_hidden_states(hidden);
  std::uint64_t bytes = static_cast<std::uint64_t>(context.context.nbytes());
  for (const auto& block : context.blocks) {
    bytes += static_cast<std::uint64_t>(block.k.nbytes() + block.v.nbytes());
  }
  // One branch here; the plan counts `branches` such contexts.
  EXPECT_EQ(dit_context_cache_bytes(model.dit, tokens, 1, 4), bytes);
  EXPECT_EQ(dit_context_cache_bytes(model.dit, tokens, 2, 4), 2 * bytes);
}

}  // namespace
}  // namespace duogen::runtime
