#include "runtime/runtime_fixtures.h"

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "pipeline/tiny_model.h"
#include "testing/test_paths.h"

namespace duogen::testing {
namespace {

namespace fs = std::filesystem;

// Removes the directory when the test binary exits.
struct TempRoot {
  fs::path path = make_temp_dir("runtime");
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const fs::path& root() {
  static const TempRoot r;
  return r.path;
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
}

}  // namespace

const fs::path& tiny_model_dir() {
  static const fs::path dir = [] {
    pipeline::TinyModelOptions options;
    options.tokenizer_dir = DUOGEN_QWEN_TOKENIZER_DIR;
    pipeline::write_tiny_model(root() / "model", options);
    return root() / "model";
  }();
  return dir;
}

const fs::path& real_config_dir() {
  static const fs::path dir = [] {
    const fs::path d = root() / "real";
    fs::create_directories(d / "mllm");
    fs::create_directories(d / "dit");
    fs::create_directories(d / "vae");
    // Qwen2.5-VL-7B-Instruct, the hub's flat layout (architecture.md §4.1 and §5.1).
    write_json(d / "mllm" / "config.json", qwen2_5_vl_7b_config());
    write_json(d / "duogen.json",
               {{"format", "duogen-model-v1"}, {"mllm", "mllm"}, {"dit", "dit"}, {"vae", "vae"}});
    return d;
  }();
  return dir;
}

// Qwen2.5-VL-7B-Instruct (architecture.md §4.1 and §5.1); Cosmos-Reason1-7B has the same shapes.
nlohmann::json qwen2_5_vl_7b_config() {
  return {{"model_type", "qwen2_5_vl"},
          {"hidden_size", 3584},
          {"intermediate_size", 18944},
          {"num_hidden_layers", 28},
          {"num_attention_heads", 28},
          {"num_key_value_heads", 4},
          {"vocab_size", 152064},
          {"max_position_embeddings", 128000},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 1000000.0},
          {"rope_scaling", {{"type", "mrope"}, {"mrope_section", {16, 24, 24}}}},
          {"tie_word_embeddings", false},
          {"hidden_act", "silu"},
          {"torch_dtype", "bfloat16"},
          {"vision_config",
           {{"depth", 32},
            {"hidden_size", 1280},
            {"intermediate_size", 3420},
            {"num_heads", 16},
            {"in_chans", 3},
            {"out_hidden_size", 3584},
            {"patch_size", 14},
            {"spatial_merge_size", 2},
            {"temporal_patch_size", 2},
            {"window_size", 112},
            {"fullatt_block_indexes", {7, 15, 23, 31}},
            {"tokens_per_second", 2},
            {"hidden_act", "silu"}}}};
}

const fs::path& real_snapshot_dir() {
  static const fs::path dir = [] {
    const fs::path d = root() / "real-snapshot";
    for (const char* sub : {"text_encoder", "tokenizer", "transformer", "vae", "scheduler"}) {
      fs::create_directories(d / sub);
    }
    write_json(d / "model_index.json",
               {{"_class_name", "Cosmos2_5_PredictBasePipeline"},
                {"_diffusers_version", "0.42.1"},
                {"safety_checker", {nullptr, nullptr}},
                {"scheduler", {"diffusers", "UniPCMultistepScheduler"}},
                {"text_encoder", {"transformers", "Qwen2_5_VLForConditionalGeneration"}},
                {"tokenizer", {"transformers", "Qwen2Tokenizer"}},
                {"transformer", {"diffusers", "CosmosTransformer3DModel"}},
                {"vae", {"diffusers", "AutoencoderKLWan"}}});
    nlohmann::json text_encoder = qwen2_5_vl_7b_config();
    text_encoder["architectures"] = {"Qwen2_5_VLForConditionalGeneration"};
    write_json(d / "text_encoder" / "config.json", text_encoder);
    // The 2B DiT in diffusers' form (tools/convert's Cosmos-2.5-Predict-Base-2B config).
    write_json(d / "transformer" / "config.json", {{"_class_name", "CosmosTransformer3DModel"},
                                                   {"adaln_lora_dim", 256},
                                                   {"attention_head_dim", 128},
                                                   {"concat_padding_mask", true},
                                                   {"crossattn_proj_in_channels", 100352},
                                                   {"encoder_hidden_states_channels", 1024},
                                                   {"extra_pos_embed_type", nullptr},
                                                   {"img_context_dim_in", nullptr},
                                                   {"in_channels", 17},
                                                   {"max_size", {128, 240, 240}},
                                                   {"mlp_ratio", 4.0},
                                                   {"num_attention_heads", 16},
                                                   {"num_layers", 28},
                                                   {"out_channels", 16},
                                                   {"patch_size", {1, 2, 2}},
                                                   {"rope_scale", {1.0, 3.0, 3.0}},
                                                   {"text_embed_dim", 1024},
                                                   {"use_crossattn_projection", true}});
    write_json(d / "vae" / "config.json", {{"_class_name", "AutoencoderKLWan"},
                                           {"attn_scales", nlohmann::json::array()},
                                           {"base_dim", 96},
                                           {"dim_mult", {1, 2, 4, 4}},
                                           {"dropout", 0.0},
                                           {"num_res_blocks", 2},
                                           {"temperal_downsample", {false, true, true}},
                                           {"z_dim", 16}});
    // The published scheduler config (the tiny snapshot carries the converter's).
    fs::copy_file(data_dir() / "tiny-cosmos2_5" / "scheduler" / "scheduler_config.json",
                  d / "scheduler" / "scheduler_config.json");
    return d;
  }();
  return dir;
}

}  // namespace duogen::testing
