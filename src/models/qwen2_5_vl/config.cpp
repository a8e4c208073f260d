#include "models/qwen2_5_vl/config.h"

#include <numeric>

#include "core/check.h"
#include "core/logging.h"
#include "io/json_config.h"
#include "models/qwen2_5_vl/activation.h"

namespace duogen::qwen2_5_vl {
namespace {

// ---- What each key does (transformers 5.23 configuration/modeling_qwen2_5_vl.py) -------------
//
// Keys from_json reads: each is honoured, or refused by a check below with a FormatError.
constexpr std::string_view kTopKeys[] = {
    "model_type",     "text_config",           "vision_config",       "image_token_id",
    "video_token_id", "vision_start_token_id", "vision_end_token_id", "tie_word_embeddings",
    "dtype",          "torch_dtype",           "bos_token_id",        "eos_token_id"};
// Text-model keys: in `text_config`, or at the top level in the legacy flat layout.
constexpr std::string_view kTextKeys[] = {"vocab_size",
                                          "hidden_size",
                                          "intermediate_size",
                                          "num_hidden_layers",
                                          "num_attention_heads",
                                          "num_key_value_heads",
                                          "max_position_embeddings",
                                          "rms_norm_eps",
                                          "hidden_act",
                                          "rope_theta",
                                          "rope_parameters",
                                          "rope_scaling",
                                          "use_sliding_window",
                                          "sliding_window",
                                          "max_window_layers",
                                          "layer_types",
                                          "head_dim",
                                          "attention_bias",
                                          "tie_word_embeddings",
                                          "bos_token_id",
                                          "eos_token_id",
                                          "dtype",
                                          "torch_dtype"};
constexpr std::string_view kVisionKeys[] = {
    "depth",       "num_hidden_layers",   "hidden_size",        "intermediate_size",
    "num_heads",   "num_attention_heads", "in_channels",        "in_chans",
    "patch_size",  "spatial_patch_size",  "spatial_merge_size", "temporal_patch_size",
    "window_size", "out_hidden_size",     "tokens_per_second",  "fullatt_block_indexes",
    "hidden_act",  "rope_parameters",     "rope_scaling",       "rope_theta"};
constexpr std::string_view kRopeKeys[] = {"rope_type", "type", "rope_theta", "mrope_section"};

// Keys accepted without effect on inference, with the reason (beyond
// io::transformers_common_keys()).
constexpr io::IgnoredKey kIgnoredKeys[] = {
    {"attention_dropout",
     "dropout is only applied in training (transformers: 0.0 unless "
     "self.training)"},
    {"vision_token_id", "not a transformers 5.23 field; nothing reads it"},
    {"model_type", "checked at the top level; sub-config model types are labels"},
    {"partial_rotary_factor", "Qwen2.5-VL's own RoPE init ignores it (rotates the whole head)"},
};
// Text keys at the top level next to a `text_config` (transformers 4.5x wrote both): the text
// model is built from text_config alone, so these have no effect.
constexpr io::IgnoredKey kShadowedTextKey = {
    "", "shadowed by text_config, from which transformers builds the text model"};

// transformers' Qwen2_5_VLConfig.__post_init__: the text model's rope dict is `rope_scaling` when
// that is a non-empty object, else `rope_parameters`; rope_theta defaults to the plain key.
std::optional<io::JsonObject> rope_object(const io::JsonObject& j) {
  auto scaling = j.child("rope_scaling");
  if (scaling && !scaling->json().empty()) return scaling;
  return j.child("rope_parameters");
}

std::string rope_type(const io::JsonObject& rope) {
  return rope.get<std::string>("rope_type", rope.get<std::string>("type", "default"));
}

std::string rope_key(const io::JsonObject& rope) {
  return rope.has("rope_type") || !rope.has("type") ? "rope_type" : "type";
}

void check_activation(const io::JsonObject& j, const std::string& name) {
  if (!activation_from_name(name)) j.unsupported("hidden_act", activation_refusal(name));
}

VisionConfig parse_vision(const io::JsonObject& j) {
  VisionConfig c;
  // attribute_map: num_hidden_layers -> depth, num_attention_heads -> num_heads (the alias wins).
  c.depth = j.get("num_hidden_layers", j.get("depth", c.depth));
  c.hidden_size = j.get("hidden_size", c.hidden_size);
  c.intermediate_size = j.get("intermediate_size", c.intermediate_size);
  c.num_heads = j.get("num_attention_heads", j.get("num_heads", c.num_heads));
  c.in_channels = j.get("in_channels", c.in_channels);
  c.patch_size = j.get("patch_size", c.patch_size);
  c.spatial_merge_size = j.get("spatial_merge_size", c.spatial_merge_size);
  c.temporal_patch_size = j.get("temporal_patch_size", c.temporal_patch_size);
  c.window_size = j.get("window_size", c.window_size);
  c.out_hidden_size = j.get("out_hidden_size", c.out_hidden_size);
  c.tokens_per_second = j.get("tokens_per_second", c.tokens_per_second);
  c.fullatt_block_indexes = j.get("fullatt_block_indexes", c.fullatt_block_indexes);
  c.hidden_act = j.get("hidden_act", c.hidden_act);
  check_activation(j, c.hidden_act);
  // Legacy keys transformers 5.23 no longer reads (it uses in_channels / patch_size): accepted
  // when they agree with what it uses, refused when they would describe another network.
  if (j.has("in_chans") && j.get<std::int64_t>("in_chans", 0) != c.in_channels) {
    j.unsupported("in_chans", fmt::format("transformers 5.23 ignores it and builds the patch "
                                          "embedding for in_channels = {}",
                                          c.in_channels));
  }
  if (j.has("spatial_patch_size") && j.get<std::int64_t>("spatial_patch_size", 0) != c.patch_size) {
    j.unsupported(
        "spatial_patch_size",
        fmt::format("transformers 5.23 ignores it and uses patch_size = {}", c.patch_size));
  }
  c.rope_theta = j.get("rope_theta", c.rope_theta);
  if (auto rope = rope_object(j)) {
    const std::string type = rope_type(*rope);
    if (type != "axial" && type != "default") {
      rope->unsupported(rope_key(*rope),
                        "the vision tower's RoPE is axial (transformers raises "
                        "for any other type)");
    }
    c.rope_theta = rope->get("rope_theta", c.rope_theta);
  }
  return c;
}

// transformers' layer_types: explicit, or sliding_attention for layers >= max_window_layers when
// use_sliding_window and sliding_window are set. duogen implements full causal attention only.
void check_attention_types(const io::JsonObject& j, const TextConfig& c) {
  if (j.has("layer_types")) {
    const auto types = j.require<std::vector<std::string>>("layer_types");
    DUOGEN_CHECK(static_cast<std::int64_t>(types.size()) == c.num_hidden_layers, FormatError,
                 "{}: '{}' has {} entries but num_hidden_layers is {}", j.file(),
                 j.key_path("layer_types"), types.size(), c.num_hidden_layers);
    for (std::size_t i = 0; i < types.size(); ++i) {
      if (types[i] != "full_attention") {
        j.unsupported("layer_types", fmt::format("layer {} is '{}'; duogen implements "
                                                 "'full_attention' (causal) only",
                                                 i, types[i]));
      }
    }
    return;
  }
  const bool use_sliding = j.get("use_sliding_window", false);
  const bool has_window =
      !j.json().contains("sliding_window") || !j.json()["sliding_window"].is_null();
  const std::int64_t max_window_layers = j.get<std::int64_t>("max_window_layers", 80);
  if (use_sliding && has_window && max_window_layers < c.num_hidden_layers) {
    j.unsupported("use_sliding_window",
                  fmt::format("transformers then gives layers {}..{} sliding-window attention "
                              "(sliding_window {}, max_window_layers {}), which duogen does not "
                              "implement",
                              std::max<std::int64_t>(max_window_layers, 0), c.num_hidden_layers - 1,
                              j.get<std::int64_t>("sliding_window", 4096), max_window_layers));
  }
}

void check_rope(const io::JsonObject& rope) {
  for (const auto& [key, value] : rope.json().items()) {
    DUOGEN_CHECK(!value.is_object(), FormatError,
                 "{}: '{}' is an object: RoPE parameters per layer type are not supported",
                 rope.file(), rope.key_path(key));
  }
  const std::string type = rope_type(rope);
  if (type != "default" && type != "mrope") {
    rope.unsupported(rope_key(rope),
                     "duogen implements the default M-RoPE only ('default' or "
                     "its legacy name 'mrope'), not scaled RoPE variants");
  }
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
  check_activation(j, c.hidden_act);
  c.rope_theta = j.get("rope_theta", c.rope_theta);
  if (auto rope = rope_object(j)) {
    check_rope(*rope);
    c.rope_theta = rope->get("rope_theta", c.rope_theta);
    c.mrope_section = rope->get("mrope_section", c.mrope_section);
  }
  check_attention_types(j, c);
  // Not transformers fields: its attention always has q/k/v biases and uses hidden_size /
  // num_attention_heads per head (its RoPE would read head_dim, so a different one is a mismatch).
  if (j.has("attention_bias") && !j.get("attention_bias", true)) {
    j.unsupported("attention_bias", "transformers 5.23 ignores it and always gives q/k/v biases");
  }
  if (c.num_attention_heads > 0 && j.has("head_dim") &&
      j.get<std::int64_t>("head_dim", 0) != c.hidden_size / c.num_attention_heads) {
    j.unsupported("head_dim", fmt::format("transformers' attention uses hidden_size / "
                                          "num_attention_heads = {} per head",
                                          c.hidden_size / c.num_attention_heads));
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

std::vector<std::string_view> concat(std::span<const std::string_view> a,
                                     std::span<const std::string_view> b) {
  std::vector<std::string_view> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

std::vector<std::string> Config::unknown_keys(const io::JsonObject& j) {
  const auto common = io::transformers_common_keys();
  const auto text_json = j.child("text_config");
  std::vector<std::string> out;
  if (text_json) {
    // Top-level text keys are shadowed by text_config.
    std::vector<io::IgnoredKey> shadowed;
    for (auto key : kTextKeys) shadowed.push_back({key, kShadowedTextKey.reason});
    out = io::unknown_keys(j, kTopKeys, {common, kIgnoredKeys, shadowed});
    const auto text = io::unknown_keys(*text_json, kTextKeys, {common, kIgnoredKeys});
    out.insert(out.end(), text.begin(), text.end());
  } else {
    out = io::unknown_keys(j, concat(kTopKeys, kTextKeys), {common, kIgnoredKeys});
  }
  const auto text_or_top = text_json ? *text_json : j;
  if (auto rope = rope_object(text_or_top)) {
    const auto r = io::unknown_keys(*rope, kRopeKeys, {kIgnoredKeys});
    out.insert(out.end(), r.begin(), r.end());
  }
  if (auto vision = j.child("vision_config")) {
    const auto v = io::unknown_keys(*vision, kVisionKeys, {common, kIgnoredKeys});
    out.insert(out.end(), v.begin(), v.end());
    if (auto rope = rope_object(*vision)) {
      const auto r = io::unknown_keys(*rope, kRopeKeys, {kIgnoredKeys});
      out.insert(out.end(), r.begin(), r.end());
    }
  }
  return out;
}

Config Config::from_json(const io::JsonObject& j) {
  Config c;
  const auto text_json = j.child("text_config");
  c.text = parse_text(text_json ? *text_json : j);
  if (auto vision = j.child("vision_config")) c.vision = parse_vision(*vision);
  c.tie_word_embeddings = j.get("tie_word_embeddings", c.tie_word_embeddings);
  // transformers 5.23 Qwen2_5_VLConfig.__post_init__: "pre-v5 saves placed tie_word_embeddings
  // inside text_config. Forward it to the outer config (where v5's tying logic looks)".
  if (text_json && text_json->get("tie_word_embeddings", false)) c.tie_word_embeddings = true;
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
  io::warn_unknown_keys(j, unknown_keys(j));
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
