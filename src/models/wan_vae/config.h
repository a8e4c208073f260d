// Wan2.1 VAE configuration, parsed from a diffusers `AutoencoderKLWan` config.json.
//
// Follows diffusers 0.42.1 `models/autoencoders/autoencoder_kl_wan.py`: absent keys take that
// class's defaults, which are the real Wan2.1 VAE (base_dim 96, z_dim 16, 8x8x4 compression).
// Refused with a FormatError naming the file, key and value: the Wan 2.2 variants
// (is_residual: true, patch_size > 1), attention outside the middle blocks (attn_scales: the
// original Wan code and diffusers disagree on where it puts decoder attention, and no released
// Wan2.1 checkpoint uses it), scale factors that do not describe the network, clip_output: false.
// dropout and diffusers' bookkeeping keys are accepted without effect (config.cpp lists them);
// unknown keys are ignored, as diffusers ignores them, with a warning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace duogen::io {
class JsonObject;
}

namespace duogen::wan_vae {

struct Config {
  std::int64_t base_dim = 96;
  std::int64_t decoder_base_dim = 96;  // diffusers: null means base_dim
  std::int64_t z_dim = 16;
  std::vector<std::int64_t> dim_mult = {1, 2, 4, 4};
  std::int64_t num_res_blocks = 2;
  // Per encoder stage (all but the last): whether it also halves time. The decoder uses the
  // reverse list for its temporal upsampling.
  std::vector<bool> temperal_downsample = {false, true, true};  // sic: diffusers' spelling
  std::int64_t in_channels = 3;
  std::int64_t out_channels = 3;
  std::int64_t scale_factor_temporal = 4;
  std::int64_t scale_factor_spatial = 8;
  // Per-channel latent statistics: encode gives (mu - mean) / std, decode inverts it.
  std::vector<double> latents_mean = {-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653,
                                      -0.1517, 1.5508,  0.4134,  -0.0715, 0.5517,  -0.3632,
                                      -0.1922, -0.9497, 0.2503,  -0.2921};
  std::vector<double> latents_std = {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708,
                                     2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579,
                                     1.6382, 1.1253, 2.8251, 1.9160};

  // Encoder stage widths: base_dim * [1, dim_mult...].
  std::vector<std::int64_t> encoder_dims() const;
  // Decoder stage widths: decoder_base_dim * [dim_mult.back(), reversed dim_mult...].
  std::vector<std::int64_t> decoder_dims() const;
  std::vector<bool> temperal_upsample() const;

  static Config from_json(const io::JsonObject& json);
  // Keys of `json` that from_json neither reads nor knows to be without effect.
  static std::vector<std::string> unknown_keys(const io::JsonObject& json);
  // Reads DIR/config.json; a directory without one gets the defaults (the real Wan2.1 VAE).
  static Config from_directory(const std::filesystem::path& dir);
};

}  // namespace duogen::wan_vae
