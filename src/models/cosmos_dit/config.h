// Cosmos-Predict2.5 DiT configuration (architecture.md §8.1), parsed from a diffusers
// `CosmosTransformer3DModel` config.json (diffusers 0.42.1 `transformer_cosmos.py`).
//
// Absent keys take that class's defaults, as diffusers does. The original Cosmos layout (a `.pt`
// converted by tools/convert/cosmos_dit_pt_to_safetensors.py) gets a config.json in the same
// diffusers form, with the sizes read off the tensors; a directory without any config.json gets
// `cosmos_predict2_5_2b()`, the released 2B network.
//
// Field meanings (diffusers names):
//   in_channels   latent channels + 1 when the network takes the condition-mask channel (17 for
//                 Cosmos-Predict2.5); the padding-mask channel is *not* counted here.
//   out_channels  latent channels (16).
//   text_embed_dim  width of the cross-attention context after the connector (1024).
//   crossattn_proj_in_channels  width of the connector input (28 x 3584 = 100352).
// Unsupported (rejected with a FormatError naming the file, key and value): the learnable
// absolute position embedding (`extra_pos_embed_type` "learnable" or absent, Cosmos 1 only),
// image-context cross-attention (`img_context_dim_in`), and temporal patches (`patch_size[0] != 1`:
// per-frame timesteps and packed frames need one latent frame per token row). Accepted without
// effect: `controlnet_block_every_n` (it only places ControlNet residuals passed to forward),
// `img_context_num_tokens` / `img_context_dim_out` and diffusers' bookkeeping keys; config.cpp
// lists each with its reason. Unknown keys are ignored, as diffusers ignores them, with a warning.
//
// duogen key (not diffusers'): `qk_norm_eps`, see below.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace duogen::io {
class JsonObject;
}

namespace duogen::cosmos_dit {

struct Config {
  std::int64_t in_channels = 16;
  std::int64_t out_channels = 16;
  std::int64_t num_attention_heads = 32;
  std::int64_t attention_head_dim = 128;
  std::int64_t num_layers = 28;
  double mlp_ratio = 4.0;
  std::int64_t text_embed_dim = 1024;
  std::int64_t adaln_lora_dim = 256;
  std::array<std::int64_t, 3> max_size = {128, 240, 240};  // (t, h, w), latent units
  std::array<std::int64_t, 3> patch_size = {1, 2, 2};      // (t, h, w)
  std::array<double, 3> rope_scale = {2.0, 1.0, 1.0};      // (t, h, w) NTK extrapolation ratios
  bool concat_padding_mask = true;
  bool use_crossattn_projection = false;
  std::int64_t crossattn_proj_in_channels = 1024;
  std::int64_t encoder_hidden_states_channels = 1024;  // crossattn_proj output width
  // duogen extension (not a diffusers key): the q/k RMSNorm epsilon. The original Cosmos network
  // uses 1e-6 (`minimal_v4_dit.py`); diffusers' `Attention(qk_norm="rms_norm")` silently uses its
  // default 1e-5, which is a diffusers deviation, so duogen defaults to the trained value.
  double qk_norm_eps = 1e-6;

  // The released Cosmos-Predict2.5-2B network (architecture.md §8.1 / §12.3).
  static Config cosmos_predict2_5_2b();

  std::int64_t hidden_size() const { return num_attention_heads * attention_head_dim; }
  std::int64_t latent_channels() const { return out_channels; }
  bool has_condition_mask_channel() const { return in_channels == out_channels + 1; }
  // Channels the patch embedding sees: latent [+ condition mask] [+ padding mask].
  std::int64_t patch_in_channels() const { return in_channels + (concat_padding_mask ? 1 : 0); }
  std::int64_t patch_in_features() const {
    return patch_in_channels() * patch_size[0] * patch_size[1] * patch_size[2];
  }
  std::int64_t patch_out_features() const {
    return out_channels * patch_size[0] * patch_size[1] * patch_size[2];
  }
  std::int64_t mlp_hidden() const;
  // Width the cross-attention k/v projections read (connector output, or the raw context).
  std::int64_t context_dim() const { return text_embed_dim; }

  static Config from_json(const io::JsonObject& json);
  // Keys of `json` that from_json neither reads nor knows to be without effect.
  static std::vector<std::string> unknown_keys(const io::JsonObject& json);
  // Reads DIR/config.json; without one, cosmos_predict2_5_2b().
  static Config from_directory(const std::filesystem::path& dir);
  // Throws FormatError naming `file` when sizes are inconsistent.
  void validate(const std::string& file) const;
};

}  // namespace duogen::cosmos_dit
