// Wan2.1 VAE encoder: conv_in, the down_blocks stack (residual blocks and resamplers, flat as in
// diffusers' WanEncoder3d), the mid block, norm_out + SiLU + conv_out (2 * z_dim channels).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "io/weight_loader.h"
#include "models/wan_vae/blocks.h"
#include "models/wan_vae/config.h"

namespace duogen::wan_vae {

class Encoder {
 public:
  // `attention`: the engine's dispatch for the mid-block (outlives this); null: built-in order.
  Encoder(const io::WeightView& view, const Config& config,
          const ops::AttentionDispatch* attention = nullptr);
  // One chunk: [B, 3, T, H, W] with a cache (T = 1 for the first chunk, then 4), or a single
  // image [B, 3, H, W] without. Returns [B, 2*z_dim, T', H/8, W/8] (or [B, 2*z_dim, H/8, W/8]).
  at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const;

 private:
  CausalConv3d conv_in_;
  std::vector<std::unique_ptr<Layer>> down_blocks_;
  MidBlock mid_block_;
  RmsNorm norm_out_;
  CausalConv3d conv_out_;
};

}  // namespace duogen::wan_vae
