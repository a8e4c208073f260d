// Qwen2.5-VL config variants that duogen honours, against transformers on the tiny checkpoints:
// every text and vision hidden_act of ACT2FN that duogen implements, and tie_word_embeddings given
// only in text_config (goldens from tools/reference/dump_qwen2_5_vl_variants.py).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "io/weight_loader.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "models/qwen2_5_vl/weights.h"
#include "testing/test_paths.h"

namespace duogen::qwen2_5_vl {
namespace {

using nlohmann::json;

// fp32 on the CPU, the same ATen ops in the same order as transformers: rounding only (matmul and
// attention reduction order), as for the released configs' goldens (qwen2_5_vl_lm_test.cpp).
constexpr double kRtol = 1e-5;

std::filesystem::path tiny_model() { return testing::data_dir() / "tiny-qwen2_5_vl"; }
std::filesystem::path tied_model() { return testing::data_dir() / "tiny-qwen2_5_vl-tied"; }

const io::SafetensorsFile& golden() {
  static const io::SafetensorsFile file = io::SafetensorsFile::open(
      testing::data_dir() / "reference" / "qwen2_5_vl.variants.safetensors");
  return file;
}

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

// The activation names the golden holds for `side` ("text" / "vision").
std::vector<std::string> golden_activations(const std::string& side) {
  std::vector<std::string> out;
  const std::string prefix = "expected." + side + ".";
  for (const auto& t : golden().tensors()) {
    if (t.name.rfind(prefix, 0) != 0) continue;
    const std::string rest = t.name.substr(prefix.size());
    out.push_back(rest.substr(0, rest.find('.')));
  }
  return out;
}

Config edited_config(const std::filesystem::path& dir, const std::function<void(json&)>& edit) {
  json j = io::read_json_file(dir / "config.json");
  edit(j);
  return Config::from_json(io::JsonObject(j, (dir / "config.json").string()));
}

struct TextRun {
  at::Tensor hidden;  // [T, H], final-normed
  at::Tensor logits;  // [V], last token
};

TextRun run_text(const std::filesystem::path& dir, Config config) {
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(dir));
  io::WeightStore store(checkpoint, weight_load_options(at::kFloat));
  const Model model = Model::from_weights(std::move(config), {}, store);
  store.finish("Qwen2.5-VL language model", /*report_unused=*/false);
  auto session = model.new_session();
  ChunkInput chunk{golden().tensor("input.input_ids")};
  chunk.capture_hidden_states = true;
  const ChunkOutput out = model.forward(session, chunk);
  return {out.hidden_states[-1], out.logits[0]};
}

TEST(Qwen2_5_VLVariants, EveryTextActivationMatchesTransformers) {
  c10::InferenceMode guard;
  const auto acts = golden_activations("text");
  ASSERT_EQ(acts.size(), 22u);
  for (const auto& act : acts) {
    SCOPED_TRACE(act);
    const Config config =
        edited_config(tiny_model(), [&](json& j) { j["text_config"]["hidden_act"] = act; });
    const TextRun run = run_text(tiny_model(), config);
    const at::Tensor expected = golden().tensor("expected.text." + act + ".hidden");
    const double err = rel_error(run.hidden, expected);
    EXPECT_LE(err, kRtol);
    // The activation matters: running SiLU whatever the config says would fail here.
    if (act != "silu" && act != "swish") {
      EXPECT_GT(rel_error(golden().tensor("expected.text.silu.hidden"), expected), 1e-3);
    }
    std::printf("  text %-18s rel %.3g\n", act.c_str(), err);
  }
}

TEST(Qwen2_5_VLVariants, EveryVisionActivationMatchesTransformers) {
  c10::InferenceMode guard;
  const auto acts = golden_activations("vision");
  ASSERT_EQ(acts.size(), 22u);
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(tiny_model()));
  for (const auto& act : acts) {
    SCOPED_TRACE(act);
    const Config config =
        edited_config(tiny_model(), [&](json& j) { j["vision_config"]["hidden_act"] = act; });
    io::WeightStore store(checkpoint, weight_load_options(at::kFloat));
    const VisionTower tower(config.vision, store.root().sub("visual"));
    store.finish("vision", /*report_unused=*/false);
    const at::Tensor out = tower.forward(golden().tensor("input.pixel_values"),
                                         golden().tensor("input.image_grid_thw"));
    const double err = rel_error(out, golden().tensor("expected.vision." + act + ".out"));
    EXPECT_LE(err, kRtol);
    std::printf("  vision %-16s rel %.3g\n", act.c_str(), err);
  }
}

// Before: "missing tensor 'lm_head.weight'". transformers 5.23 forwards text_config's flag to the
// outer config and ties the head (the dumper asserts the shared storage).
TEST(Qwen2_5_VLVariants, TieWordEmbeddingsInTextConfigTiesTheHead) {
  c10::InferenceMode guard;
  const auto move_tie = [](json& j) {
    j.erase("tie_word_embeddings");
    j["text_config"]["tie_word_embeddings"] = true;
  };
  const Config config = edited_config(tied_model(), move_tie);
  EXPECT_TRUE(config.tie_word_embeddings);
  const TextRun run = run_text(tied_model(), config);
  EXPECT_LE(rel_error(run.hidden, golden().tensor("expected.tie_in_text_config.hidden")), kRtol);
  EXPECT_LE(rel_error(run.logits, golden().tensor("expected.tie_in_text_config.logits")), kRtol);

  // And through Model::load on a directory holding such a config.
  const auto dir = testing::make_temp_dir("tie-in-text");
  std::filesystem::copy_file(tied_model() / "model.safetensors", dir / "model.safetensors");
  json j = io::read_json_file(tied_model() / "config.json");
  move_tie(j);
  std::ofstream(dir / "config.json") << j.dump(1);
  const Model model = Model::load(dir);
  auto session = model.new_session();
  const at::Tensor logits =
      model.forward(session, ChunkInput{golden().tensor("input.input_ids")}).logits[0];
  EXPECT_LE(rel_error(logits, golden().tensor("expected.tie_in_text_config.logits")), kRtol);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace duogen::qwen2_5_vl
