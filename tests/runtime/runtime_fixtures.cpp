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
    write_json(d / "mllm" / "config.json",
               {{"model_type", "qwen2_5_vl"},
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
                  {"hidden_act", "silu"}}}});
    write_json(d / "duogen.json",
               {{"format", "duogen-model-v1"}, {"mllm", "mllm"}, {"dit", "dit"}, {"vae", "vae"}});
    return d;
  }();
  return dir;
}

}  // namespace duogen::testing
