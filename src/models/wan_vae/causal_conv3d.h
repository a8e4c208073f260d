// Causal 3D convolution with the Wan feature cache, and its 2D reduction for single images.
//
// Wan runs videos in chunks (encoder: 1 frame, then 4 at a time; decoder: 1 latent frame at a
// time). Each causal conv pads time with 2*p zero frames in front only; across chunks the last
// CACHE_T = 2 input frames of the previous chunk replace those zeros. The cache is per call
// state, one slot per cached conv in call order, so the model itself stays immutable.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

#include "io/weight_loader.h"

namespace duogen::wan_vae {

// How many trailing frames a causal conv keeps for the next chunk.
inline constexpr std::int64_t kCacheFrames = 2;

struct CacheSlot {
  at::Tensor frames;  // undefined before the first chunk has passed
  bool repeat = false;  // upsample3d after the first chunk ("Rep" in the reference)
};

class FeatureCache {
 public:
  // Call before each chunk: slots are handed out again from the first.
  void begin_chunk() { cursor_ = 0; }
  CacheSlot& next();

 private:
  std::vector<CacheSlot> slots_;
  std::size_t cursor_ = 0;
};

class CausalConv3d {
 public:
  CausalConv3d() = default;
  // weight [out, in, kt, kh, kw] (+ bias [out]) under `view`. Spatial padding is symmetric;
  // temporal padding `padding[0]` becomes 2*padding[0] zero frames in front.
  CausalConv3d(const io::WeightView& view, std::int64_t in, std::int64_t out,
               std::array<std::int64_t, 3> kernel, std::array<std::int64_t, 3> stride = {1, 1, 1},
               std::array<std::int64_t, 3> padding = {0, 0, 0});

  // x [B, C, T, H, W]; `history` [B, C, t, H, W] (or undefined) are the frames before x and
  // replace as many leading zero frames.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& history = {}) const;
  // Chunked call: uses the next cache slot as history and leaves this chunk's last frames in it.
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache) const;
  // x [B, C, H, W]: a single frame with zero history. Every tap but the last multiplies zero
  // padding, so this is a Conv2d with weight[:, :, kt - 1].
  at::Tensor forward_2d(const at::Tensor& x) const;
  // Dispatches on rank: [B, C, H, W] -> forward_2d; [B, C, T, H, W] -> the chunked call
  // (`cache` must then be non-null).
  at::Tensor operator()(const at::Tensor& x, FeatureCache* cache) const;

  std::int64_t out_channels() const { return weight_.defined() ? weight_.size(0) : 0; }

 private:
  at::Tensor weight_;  // [out, in, kt, kh, kw]
  at::Tensor bias_;    // [out]
  std::array<std::int64_t, 3> stride_{1, 1, 1};
  std::array<std::int64_t, 3> padding_{0, 0, 0};
};

}  // namespace duogen::wan_vae
