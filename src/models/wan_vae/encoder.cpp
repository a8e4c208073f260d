#include "models/wan_vae/encoder.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

namespace duogen::wan_vae {

Encoder::Encoder(const io::WeightView& view, const Config& config,
                 const ops::AttentionDispatch* attention)
    : conv_in_(view.sub("conv_in"), config.in_channels, config.base_dim, {3, 3, 3}, {1, 1, 1},
               {1, 1, 1}),
      mid_block_(view.sub("mid_block"), config.encoder_dims().back(), attention),
      norm_out_(view.sub("norm_out"), config.encoder_dims().back(), /*images=*/false),
      conv_out_(view.sub("conv_out"), config.encoder_dims().back(), 2 * config.z_dim, {3, 3, 3},
                {1, 1, 1}, {1, 1, 1}) {
  const auto dims = config.encoder_dims();
  const std::size_t stages = config.dim_mult.size();
  for (std::size_t i = 0; i < stages; ++i) {
    std::int64_t in = dims[i];
    for (std::int64_t r = 0; r < config.num_res_blocks; ++r) {
      const auto name = fmt::format("down_blocks.{}", down_blocks_.size());
      down_blocks_.push_back(std::make_unique<ResidualBlock>(view.sub(name), in, dims[i + 1]));
      in = dims[i + 1];
    }
    if (i + 1 < stages) {
      const auto name = fmt::format("down_blocks.{}", down_blocks_.size());
      const auto mode = config.temperal_downsample[i] ? ResampleMode::kDownsample3d
                                                      : ResampleMode::kDownsample2d;
      down_blocks_.push_back(std::make_unique<Resample>(view.sub(name), dims[i + 1], mode));
    }
  }
}

at::Tensor Encoder::forward(const at::Tensor& x, FeatureCache* cache) const {
  at::Tensor h = conv_in_(x, cache);
  for (const auto& layer : down_blocks_) h = layer->forward(h, cache);
  h = mid_block_.forward(h, cache);
  return conv_out_(at::silu(norm_out_(h)), cache);
}

}  // namespace duogen::wan_vae
