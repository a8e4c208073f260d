// 3D rotary position embedding of the Cosmos DiT (architecture.md §8.6; diffusers
// `CosmosRotaryPosEmbed`, Cosmos `VideoRopePosition3DEmb`).
//
// A head of D dims is split into h = w = D/6*2 and t = D - 2h dims. Each token at (t, y, x) gets
// the angle vector [t f_t, y f_h, x f_w] (D/2 angles) duplicated to D, with
// f_a[j] = 1 / theta_a^(2j / dim_a), theta_a = 10000 * scale_a^(dim_a / (dim_a - 2)) (NTK-aware
// extrapolation). It is applied non-interleaved (dim i pairs with i + D/2), in fp32.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "models/cosmos_dit/config.h"

namespace duogen::cosmos_dit {

struct RopeTables {
  at::Tensor cos, sin;  // [N, D] fp32
};

// One frame's grid of positions in a (possibly packed) sequence.
struct FrameGrid {
  std::int64_t t_index = 0;  // temporal position (the frame's ordinal)
  std::int64_t height = 0;   // tokens (latent height / patch)
  std::int64_t width = 0;
};

class Rope3D {
 public:
  explicit Rope3D(const Config& config);

  // Tables for the concatenation of the frames' tokens, each in (y, x) raster order. Throws
  // InvalidArgument when a frame exceeds max_size (the tables the network was trained with).
  RopeTables tables(const std::vector<FrameGrid>& frames, const c10::Device& device) const;
  // Dense video: frames 0..T-1, each height x width tokens.
  RopeTables tables(std::int64_t frames, std::int64_t height, std::int64_t width,
                    const c10::Device& device) const;

  std::int64_t dim_t() const { return dim_t_; }
  std::int64_t dim_h() const { return dim_h_; }
  std::int64_t dim_w() const { return dim_w_; }

 private:
  std::int64_t head_dim_, dim_t_, dim_h_, dim_w_;
  std::int64_t max_t_, max_h_, max_w_;  // in tokens
  at::Tensor freq_t_, freq_h_, freq_w_;  // fp32 CPU
};

// x [B, N, heads, D] -> the same shape and dtype, rotated in fp32: x cos + rotate_half(x) sin with
// rotate_half(x) = [-x[D/2:], x[:D/2]].
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope);

}  // namespace duogen::cosmos_dit
