// Wan2.1 VAE components for `duogen verify`:
//   wan_vae.encode  input `image` [B, 3, T, H, W] in [-1, 1] -> `mu` (posterior mean) and
//                   `latent` ((mu - latents_mean) / latents_std)
//   wan_vae.decode  input `latent` [B, 16, T', h, w] -> `decoded` [B, 3, T, H, W], clamped
// Either takes an optional int64 input `tiling` = [tile_min_height, tile_min_width,
// tile_stride_height, tile_stride_width] (pixels), which turns on diffusers-style tiling.
#include <ATen/ATen.h>

#include "core/check.h"
#include "models/wan_vae/vae.h"
#include "verify/components.h"

namespace duogen::verify {
namespace {

wan_vae::WanVAE load_vae(const ComponentContext& ctx, const TensorMap& inputs,
                         const std::string& component) {
  wan_vae::VAEOptions options;
  options.dtype = ctx.dtype;
  options.device = ctx.device;
  if (auto it = inputs.find("tiling"); it != inputs.end()) {
    const at::Tensor t = it->second.to(at::kLong);
    DUOGEN_CHECK(t.dim() == 1 && t.size(0) == 4, FormatError,
                 "{}: input 'tiling' must be int64 [4], got {}", component, t.sizes());
    options.tiling = {true, t[0].item<std::int64_t>(), t[1].item<std::int64_t>(),
                      t[2].item<std::int64_t>(), t[3].item<std::int64_t>()};
  }
  return wan_vae::WanVAE::load(ctx.model, options);
}

TensorMap encode(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "wan_vae.encode";
  const at::Tensor& image = require_input(inputs, "image", kName);
  const auto vae = load_vae(ctx, inputs, kName);
  const at::Tensor mu = vae.encode_mean(image);
  return {{"mu", mu}, {"latent", vae.normalize(mu)}};
}

TensorMap decode(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "wan_vae.decode";
  const at::Tensor& latent = require_input(inputs, "latent", kName);
  const auto vae = load_vae(ctx, inputs, kName);
  return {{"decoded", vae.decode(latent)}};
}

}  // namespace

void register_wan_vae_components(std::map<std::string, Component>& registry) {
  registry["wan_vae.encode"] = {"Wan2.1 VAE encode: image -> posterior mean, normalised latent",
                                encode};
  registry["wan_vae.decode"] = {"Wan2.1 VAE decode: normalised latent -> clamped pixels", decode};
}

}  // namespace duogen::verify
