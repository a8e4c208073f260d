// Config parsing parity: each case of tests/data/reference/qwen2_5_vl_configs.json (written by
// tools/reference/dump_qwen2_5_vl_configs.py) holds a config.json and the values transformers
// resolves it to; duogen must resolve it to the same values. Each "refused" config (sliding-window
// layers, scaled RoPE, activations duogen lacks, ...) must fail with a FormatError naming the file
// and the key.
#include <gtest/gtest.h>

#include <fstream>

#include "duogen/error.h"
#include "io/json_config.h"
#include "models/qwen2_5_vl/config.h"
#include "testing/test_paths.h"

namespace duogen::qwen2_5_vl {
namespace {

using nlohmann::json;

json load_golden() {
  return io::read_json_file(testing::data_dir() / "reference/qwen2_5_vl_configs.json");
}

TEST(Qwen2_5_VLConfig, MatchesTransformersOnEveryGoldenCase) {
  const json golden = load_golden();
  ASSERT_GE(golden["cases"].size(), 13u);
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Config cfg = Config::from_json(io::JsonObject(c["config"], "golden"));
    const json& r = c["resolved"];
    const json& t = r["text"];
    EXPECT_EQ(cfg.text.vocab_size, t["vocab_size"]);
    EXPECT_EQ(cfg.text.hidden_size, t["hidden_size"]);
    EXPECT_EQ(cfg.text.intermediate_size, t["intermediate_size"]);
    EXPECT_EQ(cfg.text.num_hidden_layers, t["num_hidden_layers"]);
    EXPECT_EQ(cfg.text.num_attention_heads, t["num_attention_heads"]);
    EXPECT_EQ(cfg.text.num_key_value_heads, t["num_key_value_heads"]);
    EXPECT_EQ(cfg.text.max_position_embeddings, t["max_position_embeddings"]);
    EXPECT_DOUBLE_EQ(cfg.text.rms_norm_eps, t["rms_norm_eps"].get<double>());
    EXPECT_DOUBLE_EQ(cfg.text.rope_theta, t["rope_theta"].get<double>());
    EXPECT_EQ(cfg.text.hidden_act, t["hidden_act"]);
    // duogen runs full causal attention in every layer and refuses configs where transformers
    // does anything else, so every accepted case must resolve to full attention throughout.
    for (const auto& type : t["layer_types"]) EXPECT_EQ(type, "full_attention");
    EXPECT_EQ(t["layer_types"].size(), static_cast<std::size_t>(cfg.text.num_hidden_layers));
    if (t["mrope_section"].is_null()) {
      // transformers leaves it unset without rope_scaling (its model then cannot run); duogen
      // falls back to the Qwen2.5-VL value.
      EXPECT_EQ(cfg.text.mrope_section, TextConfig{}.mrope_section);
    } else {
      EXPECT_EQ(cfg.text.mrope_section, t["mrope_section"].get<std::vector<std::int64_t>>());
    }
    const json& v = r["vision"];
    EXPECT_EQ(cfg.vision.depth, v["depth"]);
    EXPECT_EQ(cfg.vision.hidden_size, v["hidden_size"]);
    EXPECT_EQ(cfg.vision.intermediate_size, v["intermediate_size"]);
    EXPECT_EQ(cfg.vision.num_heads, v["num_heads"]);
    EXPECT_EQ(cfg.vision.in_channels, v["in_channels"]);
    EXPECT_EQ(cfg.vision.patch_size, v["patch_size"]);
    EXPECT_EQ(cfg.vision.spatial_merge_size, v["spatial_merge_size"]);
    EXPECT_EQ(cfg.vision.temporal_patch_size, v["temporal_patch_size"]);
    EXPECT_EQ(cfg.vision.window_size, v["window_size"]);
    EXPECT_EQ(cfg.vision.out_hidden_size, v["out_hidden_size"]);
    EXPECT_EQ(cfg.vision.tokens_per_second, v["tokens_per_second"]);
    EXPECT_EQ(cfg.vision.fullatt_block_indexes,
              v["fullatt_block_indexes"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(cfg.vision.hidden_act, v["hidden_act"]);
    EXPECT_DOUBLE_EQ(cfg.vision.rope_theta, v["rope_theta"].get<double>());
    EXPECT_EQ(v["rope_type"], "axial");
    EXPECT_EQ(cfg.tie_word_embeddings, r["tie_word_embeddings"]);
    EXPECT_EQ(cfg.image_token_id, r["image_token_id"]);
    EXPECT_EQ(cfg.video_token_id, r["video_token_id"]);
    EXPECT_EQ(cfg.vision_start_token_id, r["vision_start_token_id"]);
    EXPECT_EQ(cfg.vision_end_token_id, r["vision_end_token_id"]);
    EXPECT_EQ(cfg.bos_token_id, r["bos_token_id"]);
    EXPECT_EQ(cfg.eos_token_ids, r["eos_token_ids"].get<std::vector<std::int64_t>>());
    // Every key of these files (the 7B's legacy layout included) is read or listed as a no-op.
    EXPECT_EQ(Config::unknown_keys(io::JsonObject(c["config"], "golden")),
              std::vector<std::string>{});
  }
}

TEST(Qwen2_5_VLConfig, RefusesWhatItDoesNotImplementNamingFileAndKey) {
  const json golden = load_golden();
  ASSERT_GE(golden["refused"].size(), 12u);
  for (const auto& c : golden["refused"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string key = c["key"];
    try {
      Config::from_json(io::JsonObject(c["config"], "model/config.json"));
      ADD_FAILURE() << "accepted; transformers makes of it: " << c["transformers"].dump();
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("model/config.json: '" + key + "'", 0), 0u) << msg;
      EXPECT_NE(msg.find("is not supported"), std::string::npos) << msg;
    }
  }
}

TEST(Qwen2_5_VLConfig, LoadsTheTinyCheckpointDirectory) {
  const Config cfg = Config::from_directory(testing::data_dir() / "tiny-qwen2_5_vl");
  EXPECT_EQ(cfg.text.head_dim() / 2, 8);  // mrope_section [2, 3, 3] covers half the head dim
  EXPECT_EQ(cfg.dtype, "float32");
}

Config parse(const json& j) { return Config::from_json(io::JsonObject(j, "test/config.json")); }

void expect_format_error(const json& j, const std::string& fragment) {
  try {
    parse(j);
    ADD_FAILURE() << "no error for " << j.dump();
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test/config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

TEST(Qwen2_5_VLConfig, RejectsWrongTypesNamingTheKey) {
  expect_format_error({{"hidden_size", "big"}}, "'hidden_size' must be an integer");
  expect_format_error({{"text_config", {{"rms_norm_eps", "x"}}}}, "'text_config.rms_norm_eps'");
  expect_format_error({{"vision_config", 3}}, "'vision_config' must be an object");
  expect_format_error({{"tie_word_embeddings", 1}}, "must be a boolean");
  expect_format_error({{"vision_config", {{"fullatt_block_indexes", "7"}}}},
                      "'vision_config.fullatt_block_indexes'");
}

TEST(Qwen2_5_VLConfig, RejectsInconsistentValues) {
  expect_format_error({{"hidden_size", 100}, {"num_attention_heads", 3}}, "not divisible");
  expect_format_error({{"num_attention_heads", 64}, {"num_key_value_heads", 5}},
                      "not a multiple of num_key_value_heads");
  expect_format_error({{"rope_scaling", {{"mrope_section", {1, 2, 3}}}}}, "mrope_section");
  expect_format_error({{"vision_config", {{"depth", 4}, {"fullatt_block_indexes", {4}}}}},
                      "outside [0, depth=4)");
}

TEST(Qwen2_5_VLConfig, MissingOrForeignConfigFileIsReported) {
  const auto dir = testing::make_temp_dir("cfg");
  EXPECT_THROW(Config::from_directory(dir), IoError);
  std::ofstream(dir / "config.json") << R"({"model_type": "llama"})";
  EXPECT_THROW(Config::from_directory(dir), FormatError);
  std::ofstream(dir / "config.json") << "{not json";
  EXPECT_THROW(Config::from_directory(dir), FormatError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace duogen::qwen2_5_vl
