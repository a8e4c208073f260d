// Loading the Qwen2.5-VL language model copies no weight when it runs on the CPU in the
// checkpoint's dtype (every tensor is a view of the mapped file), and converts each tensor once
// otherwise, dropping the mapped pages it came from.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "core/check.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/weight_loader.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/weights.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::qwen2_5_vl {
namespace {

std::filesystem::path tiny_model() { return testing::data_dir() / "tiny-qwen2_5_vl"; }

// No weight is copied at load when the model runs on the CPU in the checkpoint's dtype: every
// tensor of the language model is the mapped file's data (this used to copy q/k/v and gate/up
// into fused tensors: ~8.5 GB of the 7B's 15.5 GB on top of the mapping). Model::load builds the
// model the same way (from_weights on a store over the opened checkpoint).
TEST(Qwen2_5_VLLoad, WeightsAreViewsOfTheMappedCheckpoint) {
  c10::InferenceMode guard;
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(tiny_model()));
  io::WeightStore store(checkpoint, weight_load_options(at::kFloat));  // stored in fp32 too
  const Model model = Model::from_weights(Config::from_directory(tiny_model()), {}, store);
  store.finish("Qwen2.5-VL language model", /*report_unused=*/false);
  const auto& text = model.text_model();
  ASSERT_EQ(text.layers().size(), 2u);
  std::vector<std::pair<at::Tensor, std::string>> weights = {
      {text.embed_tokens(), "model.embed_tokens.weight"}};
  for (std::size_t i = 0; i < text.layers().size(); ++i) {
    const auto& l = text.layers()[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    weights.insert(weights.end(), {{l.q_weight, p + "self_attn.q_proj.weight"},
                                   {l.q_bias, p + "self_attn.q_proj.bias"},
                                   {l.k_weight, p + "self_attn.k_proj.weight"},
                                   {l.k_bias, p + "self_attn.k_proj.bias"},
                                   {l.v_weight, p + "self_attn.v_proj.weight"},
                                   {l.v_bias, p + "self_attn.v_proj.bias"},
                                   {l.o_weight, p + "self_attn.o_proj.weight"},
                                   {l.gate_weight, p + "mlp.gate_proj.weight"},
                                   {l.up_weight, p + "mlp.up_proj.weight"},
                                   {l.down_weight, p + "mlp.down_proj.weight"}});
  }
  for (const auto& [t, name] : weights) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(t.defined());
    // Checkpoint::tensor is a view at the tensor's offset in the mapping: the same address.
    EXPECT_EQ(t.data_ptr(), checkpoint->tensor(name).data_ptr());
  }

  // Loading in another dtype converts (one copy per tensor): those are not the mapped data.
  io::WeightStore bf16_store(checkpoint, weight_load_options(at::kBFloat16));
  ModelOptions bf16;
  bf16.dtype = at::kBFloat16;
  const Model converted =
      Model::from_weights(Config::from_directory(tiny_model()), bf16, bf16_store);
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  EXPECT_NE(converted.text_model().layers()[0].q_weight.data_ptr(),
            checkpoint->tensor(q).data_ptr());
  // The converted tensor's mapped pages were dropped; the mapping still reads the file's values.
  EXPECT_TRUE(at::equal(converted.text_model().layers()[0].q_weight.to(at::kFloat),
                        checkpoint->tensor(q).to(at::kBFloat16).to(at::kFloat)));
}

// A text encoder loads without its output head (Cosmos' conditioning reads hidden states only):
// the same hidden states, no head tensor, and asking for logits is an error that says why.
TEST(Qwen2_5_VLLoad, WithoutTheHeadHiddenStatesAreUnchangedAndLogitsRefused) {
  c10::InferenceMode guard;
  ModelOptions no_head;
  no_head.lm_head = false;
  const Model full = Model::load(tiny_model());
  const Model encoder = Model::load(tiny_model(), no_head);
  ChunkInput chunk(at::arange(5, at::kLong), {}, {}, LogitsMode::kNone);
  chunk.capture_hidden_states = true;
  Session a = full.new_session();
  Session b = encoder.new_session();
  const at::Tensor expected = full.forward(a, chunk).hidden_states;
  ASSERT_TRUE(expected.defined());
  EXPECT_TRUE(at::equal(encoder.forward(b, chunk).hidden_states, expected));

  EXPECT_THROW(encoder.lm_head(expected[-1]), InvalidArgument);
  Session c = encoder.new_session();
  chunk.logits = LogitsMode::kLast;
  try {
    encoder.forward(c, chunk);
    ADD_FAILURE() << "logits from a model loaded without lm_head";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("without its output head"), std::string::npos) << e.what();
  }
}

// transformers 5 saves the vision tower as `model.visual.*` (older saves: `visual.*`); the language
// model leaves it for the vision loader either way, without calling it unused.
TEST(Qwen2_5_VLLoad, VisionTensorsUnderEitherNameAreNotReportedUnused) {
  c10::InferenceMode guard;
  const auto dir = testing::make_temp_dir("qwen-visual-names");
  std::filesystem::copy_file(tiny_model() / "config.json", dir / "config.json");
  const auto checkpoint = io::Checkpoint::open(tiny_model());
  io::NamedTensors renamed;
  std::size_t visual = 0;
  for (const auto& name : checkpoint.names()) {
    const bool is_visual = name.starts_with("visual.");
    visual += is_visual;
    renamed.emplace_back(is_visual ? "model." + name : name, checkpoint.tensor(name));
  }
  ASSERT_GT(visual, 0u);
  // A tensor nobody loads, so the test sees the warning it would otherwise miss.
  renamed.emplace_back("model.stray.weight", at::zeros({2}));
  io::write_safetensors(dir / "model.safetensors", renamed);

  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  Model::load(dir);
  spdlog::default_logger()->sinks().pop_back();
  EXPECT_NE(
      log.str().find("1 checkpoint tensor(s) unused by the language model: model.stray.weight"),
      std::string::npos)
      << log.str();
  EXPECT_EQ(log.str().find("visual."), std::string::npos) << log.str();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace duogen::qwen2_5_vl
