#include "models/wan_vae/decoder.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

namespace duogen::wan_vae {

Decoder::Decoder(const io::WeightView& view, const Config& config,
                 const ops::AttentionDispatch* attention)
    : conv_in_(view.sub("conv_in"), config.z_dim, config.decoder_dims().front(), {3, 3, 3},
               {1, 1, 1}, {1, 1, 1}),
      mid_block_(view.sub("mid_block"), config.decoder_dims().front(), attention),
      norm_out_(view.sub("norm_out"), config.decoder_dims().back(), /*images=*/false),
      conv_out_(view.sub("conv_out"), config.decoder_dims().back(), config.out_channels, {3, 3, 3},
                {1, 1, 1}, {1, 1, 1}) {
  const auto dims = config.decoder_dims();
  const auto temporal = config.temperal_upsample();
  const std::size_t stages = config.dim_mult.size();
  for (std::size_t i = 0; i < stages; ++i) {
    // Wan2.1: every upsampler halves the width, so later stages start from half.
    std::int64_t in = i > 0 ? dims[i] / 2 : dims[i];
    const std::int64_t out = dims[i + 1];
    const auto block = view.sub(fmt::format("up_blocks.{}", i));
    for (std::int64_t r = 0; r <= config.num_res_blocks; ++r) {
      up_layers_.push_back(
          std::make_unique<ResidualBlock>(block.sub(fmt::format("resnets.{}", r)), in, out));
      in = out;
    }
    if (i + 1 < stages) {
      const auto mode = temporal[i] ? ResampleMode::kUpsample3d : ResampleMode::kUpsample2d;
      up_layers_.push_back(std::make_unique<Resample>(block.sub("upsamplers.0"), out, mode));
    }
  }
}

at::Tensor Decoder::forward(const at::Tensor& z, FeatureCache* cache) const {
  at::Tensor h = conv_in_(z, cache);
  h = mid_block_.forward(h, cache);
  for (const auto& layer : up_layers_) h = layer->forward(h, cache);
  return conv_out_(at::silu(norm_out_(h)), cache);
}

}  // namespace duogen::wan_vae
