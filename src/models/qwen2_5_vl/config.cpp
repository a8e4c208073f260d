#include "models/qwen2_5_vl/config.h"

#include <numeric>

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::qwen2_5_vl {
namespace {

VisionConfig parse_vision(const io::JsonObject& j) {
  VisionConfig c;
  c.depth = j.get("depth", c.depth);
  c.hidden_size = j.get("hidden_size", c.hidden_size);
  c.intermediate_size = j.get("intermediate_size", c.intermediate_size);
  c.num_heads = j.get("num_heads", c.num_heads);
  c.in_channels = j.get("in_channels", j.get("in_chans", c.in_channels));
  c.patch_size = j.get("patch_size", c.patch_size);
  c.spatial_merge_size = j.get("spatial_merge_size", c.spatial_merge_size);
  c.temporal_patch_size = j.get("temporal_patch_size", c.temporal_patch_size);
  c.window_size = j.get("window_size", c.window_size);
  c.out_hidden_size = j.get("out_hidden_size", c.out_hidden_size);
  c.tokens_per_second = j.get("tokens_per_second", c.tokens_per_second);
  c.fullatt_block_indexes = j.get("fullatt_block_indexes", c.fullatt_block_indexes);
  c.hidden_act = j.get("hidden_act", c.hidden_act);
  if (auto rope = j.child("rope_parameters")) c.rope_theta = rope->get("rope_theta", c.rope_theta);
  return c;
}

// Text keys live in `text_config` (new layout) or at the top level (legacy hub layout).
TextConfig parse_text(const io::JsonObject& j) {
  TextConfig c;
  c.vocab_size = j.get("vocab_size", c.vocab_size);
  c.hidden_size = j.get("hidden_size", c.hidden_size);
  c.intermediate_size = j.get("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = j.get("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = j.get("num_attention_heads", c.num_attention_heads);
  // transformers: absent means the class default (8), an explicit null means multi-head.
  const auto& raw = j.json();
  if (raw.contains("num_key_value_heads") && raw["num_key_value_heads"].is_null()) {
    c.num_key_value_heads = c.num_attention_heads;
  } else {
    c.num_key_value_heads = j.get("num_key_value_heads", c.num_key_value_heads);
  }
  c.max_position_embeddings = j.get("max_position_embeddings", c.max_position_embeddings);
  c.rms_norm_eps = j.get("rms_norm_eps", c.rms_norm_eps);
  c.hidden_act = j.get("hidden_act", c.hidden_act);
  c.use_sliding_window = j.get("use_sliding_window", c.use_sliding_window);
  c.rope_theta = j.get("rope_theta", c.rope_theta);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (auto rope = j.child(key)) {
      c.rope_theta = rope->get("rope_theta", c.rope_theta);
      c.mrope_section = rope->get("mrope_section", c.mrope_section);
    }
  }
  return c;
}

void validate(const Config& c, const std::string& file) {
  const auto& t = c.text;
  DUOGEN_CHECK(t.hidden_size > 0 && t.num_attention_heads > 0 &&
                   t.hidden_size % t.num_attention_heads == 0,
               FormatError, "{}: hidden_size {} is not divisible by num_attention_heads {}", file,
               t.hidden_size, t.num_attention_heads);
  DUOGEN_CHECK(t.num_key_value_heads > 0 && t.num_attention_heads % t.num_key_value_heads == 0,
               FormatError, "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}",
               file, t.num_attention_heads, t.num_key_value_heads);
  const auto section_sum =
      std::accumulate(t.mrope_section.begin(), t.mrope_section.end(), std::int64_t{0});
  DUOGEN_CHECK(t.mrope_section.size() == 3 && section_sum * 2 == t.head_dim(), FormatError,
               "{}: mrope_section must have 3 entries summing to head_dim / 2 = {}, got sum {}",
               file, t.head_dim() / 2, section_sum);
  DUOGEN_CHECK(t.vocab_size > 0 && t.num_hidden_layers > 0 && t.intermediate_size > 0,
               FormatError, "{}: vocab_size, num_hidden_layers and intermediate_size must be > 0",
               file);
  const auto& v = c.vision;
  DUOGEN_CHECK(v.num_heads > 0 && v.hidden_size % v.num_heads == 0, FormatError,
               "{}: vision hidden_size {} is not divisible by num_heads {}", file, v.hidden_size,
               v.num_heads);
  for (auto idx : v.fullatt_block_indexes) {
    DUOGEN_CHECK(idx >= 0 && idx < v.depth, FormatError,
                 "{}: vision fullatt_block_indexes entry {} is outside [0, depth={})", file, idx,
                 v.depth);
  }
}

}  // namespace

Config Config::from_json(const io::JsonObject& j) {
  Config c;
  const auto text_json = j.child("text_config");
  c.text = parse_text(text_json ? *text_json : j);
  if (auto vision = j.child("vision_config")) c.vision = parse_vision(*vision);
  c.tie_word_embeddings = j.get("tie_word_embeddings", c.tie_word_embeddings);
  c.image_token_id = j.get("image_token_id", c.image_token_id);
  c.video_token_id = j.get("video_token_id", c.video_token_id);
  c.vision_start_token_id = j.get("vision_start_token_id", c.vision_start_token_id);
  c.vision_end_token_id = j.get("vision_end_token_id", c.vision_end_token_id);
  // Token ids sit in text_config in the new layout and at the top level in the legacy one.
  for (const io::JsonObject* src : {&j, text_json ? &*text_json : nullptr}) {
    if (src == nullptr) continue;
    c.bos_token_id = src->get("bos_token_id", c.bos_token_id);
    if (src->has("eos_token_id")) {
      c.eos_token_ids = src->json()["eos_token_id"].is_array()
                            ? src->require<std::vector<std::int64_t>>("eos_token_id")
                            : std::vector<std::int64_t>{src->require<std::int64_t>("eos_token_id")};
    }
  }
  c.dtype = j.get("torch_dtype", j.get("dtype", c.dtype));
  validate(c, j.file());
  return c;
}

Config Config::from_directory(const std::filesystem::path& dir) {
  const auto json = io::JsonObject::from_file(dir / "config.json");
  const auto model_type = json.get<std::string>("model_type", "");
  DUOGEN_CHECK(model_type == "qwen2_5_vl", FormatError,
               "{}: model_type is '{}', expected 'qwen2_5_vl'", json.file(), model_type);
  return from_json(json);
}

}  // namespace duogen::qwen2_5_vl
