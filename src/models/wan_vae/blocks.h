// Wan2.1 VAE building blocks (architecture.md §11.2). Every block takes either a video chunk
// [B, C, T, H, W] with a FeatureCache, or a single image [B, C, H, W] with none: the image path
// is the first-chunk path with zero history, reduced to 2D (see CausalConv3d::forward_2d).
// Weight names are diffusers' (`norm1`, `conv1`, `to_qkv`, `resample.1`, `time_conv`, ...).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "io/weight_loader.h"
#include "kernels/ops/attention_dispatch.h"
#include "models/wan_vae/causal_conv3d.h"

namespace duogen::wan_vae {

// x / max(||x||_2 over channels, 1e-12) * sqrt(C) * gamma: F.normalize, no eps under a root.
class RmsNorm {
 public:
  RmsNorm() = default;
  // gamma is [C, 1, 1, 1] (`images=false`) or [C, 1, 1] (the attention block's 2D norm).
  RmsNorm(const io::WeightView& view, std::int64_t channels, bool images);
  at::Tensor operator()(const at::Tensor& x) const;  // x [B, C, ...]

 private:
  at::Tensor gamma_;  // [C]
  double scale_ = 1.0;
};

// A block of the encoder/decoder stacks.
class Layer {
 public:
  virtual ~Layer() = default;
  virtual at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const = 0;
};

class ResidualBlock final : public Layer {
 public:
  ResidualBlock(const io::WeightView& view, std::int64_t in, std::int64_t out);
  at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const override;

 private:
  RmsNorm norm1_, norm2_;
  CausalConv3d conv1_, conv2_;
  CausalConv3d shortcut_;  // 1x1x1, only when in != out
  bool has_shortcut_ = false;
};

// Single-head self-attention over H*W, per frame, plus the identity.
class AttentionBlock final : public Layer {
 public:
  // `attention`: the engine's dispatch (outlives the block); null: the built-in order.
  AttentionBlock(const io::WeightView& view, std::int64_t channels,
                 const ops::AttentionDispatch* attention = nullptr);
  at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const override;

 private:
  at::Tensor attend(const at::Tensor& x) const;  // x [N, C, H, W]
  const ops::AttentionDispatch* attention_;
  RmsNorm norm_;
  at::Tensor qkv_weight_, qkv_bias_;    // [3C, C, 1, 1], [3C]
  at::Tensor proj_weight_, proj_bias_;  // [C, C, 1, 1], [C]
};

enum class ResampleMode { kUpsample2d, kUpsample3d, kDownsample2d, kDownsample3d };

class Resample final : public Layer {
 public:
  // Upsampling convs map `channels` -> channels / 2 (Wan2.1).
  Resample(const io::WeightView& view, std::int64_t channels, ResampleMode mode);
  at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const override;

 private:
  at::Tensor spatial(const at::Tensor& x) const;  // x [N, C, H, W]
  at::Tensor upsample_time(const at::Tensor& x, FeatureCache& cache) const;
  at::Tensor downsample_time(const at::Tensor& x, FeatureCache& cache) const;

  ResampleMode mode_;
  at::Tensor conv_weight_, conv_bias_;  // `resample.1`: Conv2d 3x3
  CausalConv3d time_conv_;              // the 3d modes only
};

// A midblock: residual, attention, residual.
class MidBlock final : public Layer {
 public:
  MidBlock(const io::WeightView& view, std::int64_t channels,
           const ops::AttentionDispatch* attention = nullptr);
  at::Tensor forward(const at::Tensor& x, FeatureCache* cache) const override;

 private:
  ResidualBlock res0_;
  AttentionBlock attn_;
  ResidualBlock res1_;
};

}  // namespace duogen::wan_vae
