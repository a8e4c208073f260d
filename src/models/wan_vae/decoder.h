// Wan2.1 VAE decoder: conv_in (z_dim -> 4*dim), the mid block, up_blocks (num_res_blocks + 1
// residual blocks each, then an upsampler but for the last), norm_out + SiLU + conv_out.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "io/weight_loader.h"
#include "models/wan_vae/blocks.h"
#include "models/wan_vae/config.h"

namespace duogen::wan_vae {

class Decoder {
 public:
  // `attention`: the engine's dispatch for the mid-block (outlives this); null: built-in order.
  Decoder(const io::WeightView& view, const Config& config,
          const ops::AttentionDispatch* attention = nullptr);
  // One latent frame [B, z_dim, 1, h, w] with a cache (the first call is the first chunk), or a
  // single latent image [B, z_dim, h, w] without. Returns pixels before the clamp.
  at::Tensor forward(const at::Tensor& z, FeatureCache* cache) const;

 private:
  CausalConv3d conv_in_;
  MidBlock mid_block_;
  std::vector<std::unique_ptr<Layer>> up_layers_;  // up_blocks flattened in call order
  RmsNorm norm_out_;
  CausalConv3d conv_out_;
};

}  // namespace duogen::wan_vae
