// Cosmos DiT input/output embeddings (architecture.md §8.3, §8.4, §8.7): patchify in
// (c, dt, dy, dx) feature order, unpatchify from (dy, dx, dt, c) order, the cos-first timestep
// sinusoid and the adaLN-LoRA timestep embedder.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

#include "io/weight_loader.h"
#include "models/cosmos_dit/config.h"

namespace duogen::cosmos_dit {

// x [B, C, T, H, W] -> tokens [B, T/pt * H/ph * W/pw, C*pt*ph*pw], tokens in (t, h, w) raster
// order, features in (c, dt, dy, dx) order (c slowest). T, H, W must be multiples of the patch.
at::Tensor patchify(const at::Tensor& x, const std::array<std::int64_t, 3>& patch);

// tokens [B, T' * H' * W', ph*pw*pt*C] with features in (dy, dx, dt, c) order (c fastest) ->
// [B, C, T' pt, H' ph, W' pw]. This is *not* the inverse of patchify's order (the network was
// trained this way; diffusers notes the same).
at::Tensor unpatchify(const at::Tensor& tokens, std::int64_t frames, std::int64_t height,
                      std::int64_t width, const std::array<std::int64_t, 3>& patch,
                      std::int64_t channels);

// t (any shape, any float dtype) -> [..., dim] fp32 = [cos(t f_i), sin(t f_i)] with
// f_i = exp(-ln(10000) i / (dim/2)), i < dim/2 (diffusers Timesteps(flip_sin_to_cos=True,
// downscale_freq_shift=0)). dim must be even.
at::Tensor timestep_sinusoid(const at::Tensor& t, std::int64_t dim);

// `time_embed.*`: weights kept in fp32 whatever the network dtype (architecture.md §8.8).
class TimeEmbedding {
 public:
  TimeEmbedding(const io::WeightView& time_embed, const Config& config);

  struct Output {
    at::Tensor lora;      // [..., 3 D] fp32: linear_2(silu(linear_1(sinusoid)))
    at::Tensor embedded;  // [..., D] fp32: RMSNorm(sinusoid), the adaLN input
  };
  // timesteps [...] on the model scale (diffusers' `timestep`; the original network's
  // timestep * 0.001).
  Output forward(const at::Tensor& timesteps) const;

 private:
  std::int64_t dim_;
  at::Tensor linear_1_, linear_2_, norm_;
};

}  // namespace duogen::cosmos_dit
