// Qwen2.5-VL configuration, parsed from the checkpoint's config.json.
//
// Follows transformers 5.23 `configuration_qwen2_5_vl.py`: absent keys take that file's class
// defaults. Both layouts are accepted: the hub's legacy flat one (text keys at the top level,
// `rope_theta` + `rope_scaling.mrope_section`) and the nested one newer transformers write
// (`text_config`, `rope_parameters`).
//
// Every key is honoured as transformers resolves it, refused with a FormatError naming the file,
// the key and the value (sliding-window attention, RoPE types other than default/mrope, hidden
// activations duogen lacks, ...), or, for keys with no effect on inference, accepted: those are
// listed with the reason at the top of config.cpp (and in docs/config_keys.md). Keys duogen does
// not know at all are ignored, as transformers ignores them, with a warning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace duogen::io {
class JsonObject;
}

namespace duogen::qwen2_5_vl {

struct VisionConfig {
  std::int64_t depth = 32;
  std::int64_t hidden_size = 3584;  // transformers' default; every real checkpoint says 1280
  std::int64_t intermediate_size = 3420;
  std::int64_t num_heads = 16;
  std::int64_t in_channels = 3;
  std::int64_t patch_size = 14;
  std::int64_t spatial_merge_size = 2;
  std::int64_t temporal_patch_size = 2;
  std::int64_t window_size = 112;  // pixels
  std::int64_t out_hidden_size = 3584;
  std::int64_t tokens_per_second = 4;
  std::vector<std::int64_t> fullatt_block_indexes = {7, 15, 23, 31};
  std::string hidden_act = "silu";  // a transformers ACT2FN name (activation.h)
  double rope_theta = 10000.0;      // 2D vision RoPE base (`rope_parameters.rope_theta`)

  std::int64_t head_dim() const { return hidden_size / num_heads; }
};

struct TextConfig {
  std::int64_t vocab_size = 152064;
  std::int64_t hidden_size = 8192;
  std::int64_t intermediate_size = 29568;
  std::int64_t num_hidden_layers = 80;
  std::int64_t num_attention_heads = 64;
  std::int64_t num_key_value_heads = 8;
  std::int64_t max_position_embeddings = 32768;
  double rms_norm_eps = 1e-5;
  double rope_theta = 1'000'000.0;
  std::vector<std::int64_t> mrope_section = {16, 24, 24};  // t, h, w pairs of the rotary dims
  std::string hidden_act = "silu";  // a transformers ACT2FN name (activation.h)

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

struct Config {
  TextConfig text;
  VisionConfig vision;
  // transformers 5.23: the top-level key, or `text_config.tie_word_embeddings` (where pre-v5
  // saves put it), whichever is true.
  bool tie_word_embeddings = false;
  std::int64_t image_token_id = 151655;
  std::int64_t video_token_id = 151656;
  std::int64_t vision_start_token_id = 151652;
  std::int64_t vision_end_token_id = 151653;
  std::int64_t bos_token_id = 151643;
  std::vector<std::int64_t> eos_token_ids = {151645};
  std::string dtype = "bfloat16";  // the checkpoint's storage dtype

  // Throws FormatError naming the file and key for wrong types, inconsistent values (e.g. heads
  // not dividing hidden_size, mrope_section not summing to head_dim / 2) and unsupported ones.
  static Config from_json(const io::JsonObject& json);
  // The keys of `json` that from_json neither reads nor knows to be without effect (qualified,
  // e.g. "text_config.foo"); from_json logs them as a warning.
  static std::vector<std::string> unknown_keys(const io::JsonObject& json);
  static Config from_directory(const std::filesystem::path& dir);
};

}  // namespace duogen::qwen2_5_vl
