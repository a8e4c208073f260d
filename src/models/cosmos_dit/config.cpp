#include "models/cosmos_dit/config.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::cosmos_dit {
namespace {

template <typename T>
std::array<T, 3> triple(const io::JsonObject& j, std::string_view key, std::array<T, 3> fallback) {
  const auto v = j.get(key, std::vector<T>(fallback.begin(), fallback.end()));
  DUOGEN_CHECK(v.size() == 3, FormatError, "{}: '{}' must have 3 entries (t, h, w), got {}",
               j.file(), key, v.size());
  return {v[0], v[1], v[2]};
}

// nullptr when the key is absent; diffusers writes "no value" as JSON null, which JsonObject::get
// would turn into the fallback, so optional-valued keys are read raw.
const nlohmann::json* raw(const io::JsonObject& j, const char* key) {
  const auto& json = j.json();
  const auto it = json.find(key);
  return it == json.end() ? nullptr : &*it;
}

// ---- What each key does (diffusers 0.42.1 `CosmosTransformer3DModel.__init__` / forward) -----
//
// Keys from_json reads: each is honoured, or refused by a check with a FormatError.
constexpr std::string_view kReadKeys[] = {"in_channels",
                                          "out_channels",
                                          "num_attention_heads",
                                          "attention_head_dim",
                                          "num_layers",
                                          "mlp_ratio",
                                          "text_embed_dim",
                                          "adaln_lora_dim",
                                          "max_size",
                                          "patch_size",
                                          "rope_scale",
                                          "concat_padding_mask",
                                          "extra_pos_embed_type",
                                          "use_crossattn_projection",
                                          "crossattn_proj_in_channels",
                                          "encoder_hidden_states_channels",
                                          "img_context_dim_in",
                                          "qk_norm_eps"};
// Keys accepted without effect on the network duogen runs, with the reason.
constexpr io::IgnoredKey kIgnoredKeys[] = {
    {"controlnet_block_every_n",
     "only spaces the ControlNet residuals passed to forward (block_controlnet_hidden_states); "
     "the transformer's own weights and outputs do not depend on it, and duogen passes none"},
    {"img_context_num_tokens", "documentation only: diffusers 0.42.1 never reads it"},
    {"img_context_dim_out", "only used with img_context_dim_in, which is refused when set"},
};

}  // namespace

Config Config::cosmos_predict2_5_2b() {
  Config c;
  c.in_channels = 17;
  c.out_channels = 16;
  c.num_attention_heads = 16;
  c.attention_head_dim = 128;
  c.num_layers = 28;
  c.mlp_ratio = 4.0;
  c.text_embed_dim = 1024;
  c.adaln_lora_dim = 256;
  c.max_size = {128, 240, 240};
  c.patch_size = {1, 2, 2};
  c.rope_scale = {1.0, 3.0, 3.0};
  c.concat_padding_mask = true;
  c.use_crossattn_projection = true;
  c.crossattn_proj_in_channels = 100352;
  c.encoder_hidden_states_channels = 1024;
  return c;
}

std::int64_t Config::mlp_hidden() const {
  return static_cast<std::int64_t>(static_cast<double>(hidden_size()) * mlp_ratio);
}

void Config::validate(const std::string& file) const {
  DUOGEN_CHECK(in_channels > 0 && out_channels > 0 && num_attention_heads > 0 &&
                   attention_head_dim > 0 && num_layers > 0 && text_embed_dim > 0 &&
                   adaln_lora_dim > 0 && mlp_hidden() > 0,
               FormatError,
               "{}: in_channels, out_channels, num_attention_heads, attention_head_dim, "
               "num_layers, text_embed_dim, adaln_lora_dim and mlp_ratio must be > 0",
               file);
  DUOGEN_CHECK(in_channels == out_channels || in_channels == out_channels + 1, FormatError,
               "{}: in_channels ({}) must be out_channels ({}) or out_channels + 1 (with the "
               "condition-mask channel)",
               file, in_channels, out_channels);
  DUOGEN_CHECK(patch_size[0] == 1 && patch_size[1] > 0 && patch_size[2] > 0, FormatError,
               "{}: patch_size must be [1, ph, pw] with ph, pw > 0, got [{}, {}, {}]", file,
               patch_size[0], patch_size[1], patch_size[2]);
  // RoPE splits a head into h = w = D/6*2 and t = D - 2h dims; each needs an even, non-zero size.
  // h >= 4 also keeps the NTK exponent h / (h - 2) finite.
  DUOGEN_CHECK(attention_head_dim % 2 == 0 && attention_head_dim >= 12, FormatError,
               "{}: attention_head_dim must be even and >= 12 for the 3D RoPE split, got {}",
               file, attention_head_dim);
  DUOGEN_CHECK(qk_norm_eps > 0, FormatError, "{}: qk_norm_eps must be > 0, got {}", file,
               qk_norm_eps);
  for (int i = 0; i < 3; ++i) {
    DUOGEN_CHECK(max_size[i] >= patch_size[i] && rope_scale[i] > 0, FormatError,
                 "{}: max_size[{}] = {} and rope_scale[{}] = {} must be positive", file, i,
                 max_size[i], i, rope_scale[i]);
  }
  if (use_crossattn_projection) {
    DUOGEN_CHECK(crossattn_proj_in_channels > 0 && encoder_hidden_states_channels == text_embed_dim,
                 FormatError,
                 "{}: with use_crossattn_projection the projection output "
                 "(encoder_hidden_states_channels = {}) must equal text_embed_dim ({})",
                 file, encoder_hidden_states_channels, text_embed_dim);
  }
}

Config Config::from_json(const io::JsonObject& j) {
  Config c;
  c.in_channels = j.get("in_channels", c.in_channels);
  c.out_channels = j.get("out_channels", c.out_channels);
  c.num_attention_heads = j.get("num_attention_heads", c.num_attention_heads);
  c.attention_head_dim = j.get("attention_head_dim", c.attention_head_dim);
  c.num_layers = j.get("num_layers", c.num_layers);
  c.mlp_ratio = j.get("mlp_ratio", c.mlp_ratio);
  c.text_embed_dim = j.get("text_embed_dim", c.text_embed_dim);
  c.adaln_lora_dim = j.get("adaln_lora_dim", c.adaln_lora_dim);
  c.max_size = triple(j, "max_size", c.max_size);
  c.patch_size = triple(j, "patch_size", c.patch_size);
  c.rope_scale = triple(j, "rope_scale", c.rope_scale);
  c.concat_padding_mask = j.get("concat_padding_mask", c.concat_padding_mask);
  c.qk_norm_eps = j.get("qk_norm_eps", c.qk_norm_eps);
  c.use_crossattn_projection = j.get("use_crossattn_projection", c.use_crossattn_projection);
  c.crossattn_proj_in_channels = j.get("crossattn_proj_in_channels", c.crossattn_proj_in_channels);
  c.encoder_hidden_states_channels =
      j.get("encoder_hidden_states_channels", c.encoder_hidden_states_channels);

  // diffusers' default is "learnable"; only an explicit null turns it off. Any other string
  // builds no embedding but makes diffusers' forward call the missing one.
  const nlohmann::json* pos = raw(j, "extra_pos_embed_type");
  if (pos == nullptr || !pos->is_null()) {
    j.unsupported("extra_pos_embed_type",
                  pos == nullptr ? "absent means diffusers' default 'learnable', the learnable "
                                   "absolute position embedding of Cosmos 1, which duogen does "
                                   "not implement (Cosmos-Predict2/2.5 write null)"
                                 : "only null is: the learnable absolute position embedding of "
                                   "Cosmos 1 is not implemented");
  }
  const nlohmann::json* img = raw(j, "img_context_dim_in");
  if (img != nullptr && !img->is_null() && !(img->is_number() && img->get<double>() == 0)) {
    j.unsupported("img_context_dim_in",
                  "it adds image-context cross-attention (q_img/k_img/v_img and "
                  "img_context_proj), which duogen does not implement");
  }
  c.validate(j.file());
  io::warn_unknown_keys(j, unknown_keys(j));
  return c;
}

std::vector<std::string> Config::unknown_keys(const io::JsonObject& j) {
  return io::unknown_keys(j, kReadKeys, {io::diffusers_common_keys(), kIgnoredKeys});
}

Config Config::from_directory(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  if (!std::filesystem::exists(path)) {
    Config c = cosmos_predict2_5_2b();
    c.validate("(Cosmos-Predict2.5-2B defaults)");
    return c;
  }
  const auto json = io::JsonObject::from_file(path);
  const auto class_name = json.get<std::string>("_class_name", "CosmosTransformer3DModel");
  DUOGEN_CHECK(class_name == "CosmosTransformer3DModel", FormatError,
               "{}: _class_name is '{}', expected 'CosmosTransformer3DModel'", json.file(),
               class_name);
  return from_json(json);
}

}  // namespace duogen::cosmos_dit
