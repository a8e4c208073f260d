// The Wan2.1 VAE (architecture.md §11): encode pixels to normalised latents, decode back.
//
// Follows diffusers 0.42.1 `AutoencoderKLWan` (`_encode`, `_decode`, `tiled_encode`,
// `tiled_decode`) and the Wan pipelines' latent normalisation. Videos run chunked with the
// causal feature cache (encoder: frame 0, then 4 frames at a time; decoder: one latent frame at
// a time); a single image (T = 1) runs the equivalent 2D network.
//
//   auto vae = wan_vae::WanVAE::load("checkpoints/wan_vae", {});
//   at::Tensor z = vae.encode(wan_vae::pixels_from_image(rgb));   // [1, 16, 1, H/8, W/8]
//   at::Tensor rgb2 = wan_vae::image_from_pixels(vae.decode(z));
//
// CLI: duogen vae encode --model DIR --image IN.png --out latent.safetensors
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "kernels/ops/attention_dispatch.h"
#include "models/wan_vae/config.h"
#include "models/wan_vae/weights.h"

namespace duogen::wan_vae {

class Encoder;
class CausalConv3d;
class Decoder;

// Spatial tiling as diffusers' `enable_tiling`: tiles of `min` pixels every `stride` pixels,
// the overlap blended linearly. Bounds activation memory by the tile size.
struct TilingOptions {
  bool enabled = false;
  std::int64_t tile_sample_min_height = 256;
  std::int64_t tile_sample_min_width = 256;
  std::int64_t tile_sample_stride_height = 192;
  std::int64_t tile_sample_stride_width = 192;
};

using DecodeProgress = std::function<void(std::int64_t done, std::int64_t total)>;

struct VAEOptions {
  c10::ScalarType dtype = c10::kFloat;  // compute and weight dtype
  c10::Device device = c10::kCPU;
  TilingOptions tiling;
  // Single images (T = 1) run the 2D reduction; false runs the chunked 3D path (for tests).
  bool image_as_2d = true;
  // The engine's attention dispatch for the mid-blocks; null: the built-in order.
  std::shared_ptr<const ops::AttentionDispatch> attention;
};

class WanVAE {
 public:
  // `model` is a directory (config.json + safetensors, either layout) or a .safetensors file
  // (default config). Throws WeightError listing every missing or mis-shaped tensor.
  static WanVAE load(const std::filesystem::path& model, const VAEOptions& options);
  // The network on weights from `store` (names in `layout`); load() uses it with a checkpoint,
  // `duogen init-tiny` with a materialising store.
  static WanVAE from_weights(Config config,
                             const VAEOptions& options,
                             io::WeightStore& store,
                             Layout layout);
  WanVAE(WanVAE&&) noexcept;
  WanVAE& operator=(WanVAE&&) noexcept;
  ~WanVAE();

  // pixels [B, 3, T, H, W] in [-1, 1], T = 1 + 4k, H and W multiples of 8. Returns the
  // deterministic posterior mean mu [B, z_dim, 1 + (T - 1) / 4, H / 8, W / 8], unnormalised.
  at::Tensor encode_mean(const at::Tensor& pixels) const;
  // (mu - latents_mean) / latents_std.
  at::Tensor encode(const at::Tensor& pixels) const;
  // latents [B, z_dim, T', h, w] (normalised) -> pixels [B, 3, 1 + 4 (T' - 1), 8h, 8w] in [-1, 1].
  // `progress` is called after each decoded chunk (one latent frame of one tile) with the count
  // done and the total.
  at::Tensor decode(const at::Tensor& latents, const DecodeProgress& progress = {}) const;

  // The per-channel latent statistics, applied in fp32; both return fp32 whatever the input.
  at::Tensor normalize(const at::Tensor& mu) const;
  at::Tensor denormalize(const at::Tensor& latents) const;

  const Config& config() const { return config_; }
  const VAEOptions& options() const { return options_; }
  void set_tiling(const TilingOptions& tiling);
  Layout layout() const { return layout_; }

 private:
  WanVAE(Config config, VAEOptions options);
  // [B, 2 z_dim, T', h, w]: encoder + quant_conv on one spatial region, chunked in time.
  at::Tensor encode_moments(const at::Tensor& pixels) const;
  at::Tensor tiled_encode_moments(const at::Tensor& pixels) const;
  // post_quant_conv + decoder, frame by frame; not clamped. `chunk` is called after each frame.
  at::Tensor decode_raw(const at::Tensor& z, const std::function<void()>& chunk) const;
  at::Tensor tiled_decode_raw(const at::Tensor& z, const std::function<void()>& chunk) const;

  Config config_;
  VAEOptions options_;
  Layout layout_ = Layout::kDiffusers;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<CausalConv3d> quant_conv_, post_quant_conv_;
  at::Tensor mean_, inv_std_;  // [1, z_dim, 1, 1, 1], fp32
};

// uint8 RGB [H, W, 3] -> [1, 3, 1, H, W] float in [-1, 1] (x / 127.5 - 1).
at::Tensor pixels_from_image(const at::Tensor& rgb);
// [1, 3, 1, H, W] or [3, H, W] in [-1, 1] -> uint8 RGB [H, W, 3]:
// round(clamp((x + 1) / 2, 0, 1) * 255), the rounding of diffusers' image processor.
at::Tensor image_from_pixels(const at::Tensor& pixels);

}  // namespace duogen::wan_vae
