#include "models/wan_vae/blocks.h"

#include <ATen/ATen.h>

#include <cmath>
#include <functional>

#include "core/check.h"
#include "kernels/ops/attention.h"

namespace duogen::wan_vae {
namespace {

// Applies `fn` ([N, C, H, W] -> [N, C', H', W']) to every frame of x [B, C, T, H, W], or to x
// itself when it is a single image [B, C, H, W].
at::Tensor per_frame(const at::Tensor& x, const std::function<at::Tensor(const at::Tensor&)>& fn) {
  if (x.dim() == 4) return fn(x);
  const std::int64_t b = x.size(0), t = x.size(2);
  // [B, C, T, H, W] -> [B*T, C, H, W]
  at::Tensor frames = x.permute({0, 2, 1, 3, 4}).reshape({b * t, x.size(1), x.size(3), x.size(4)});
  at::Tensor y = fn(frames);
  // [B*T, C', H', W'] -> [B, C', T, H', W']
  return y.view({b, t, y.size(1), y.size(2), y.size(3)}).permute({0, 2, 1, 3, 4});
}

CausalConv3d conv3x3x3(const io::WeightView& view, std::int64_t in, std::int64_t out) {
  return CausalConv3d(view, in, out, {3, 3, 3}, {1, 1, 1}, {1, 1, 1});
}

}  // namespace

RmsNorm::RmsNorm(const io::WeightView& view, std::int64_t channels, bool images)
    : scale_(std::sqrt(static_cast<double>(channels))) {
  const at::Tensor gamma = images ? view.get("gamma", {channels, 1, 1})
                                  : view.get("gamma", {channels, 1, 1, 1});
  if (gamma.defined()) gamma_ = gamma.reshape({channels});
}

at::Tensor RmsNorm::operator()(const at::Tensor& x) const {
  // Half-precision inputs are normalised in fp32 and cast back, as diffusers does.
  const bool upcast = x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16;
  const at::Tensor xf = upcast ? x.to(at::kFloat) : x;
  // Tensor.norm(2, dim) in Python is linalg.vector_norm; use the same reduction.
  const at::Tensor denom = at::linalg_vector_norm(xf, 2, {1}, /*keepdim=*/true).clamp_min(1e-12);
  const at::Tensor normalized = (xf / denom).to(x.scalar_type());
  std::vector<std::int64_t> shape(x.dim() - 1, 1);  // gamma broadcast as [C, 1, ...]
  shape[0] = gamma_.size(0);
  return normalized * scale_ * gamma_.view(shape);
}

ResidualBlock::ResidualBlock(const io::WeightView& view, std::int64_t in, std::int64_t out)
    : norm1_(view.sub("norm1"), in, /*images=*/false),
      norm2_(view.sub("norm2"), out, /*images=*/false),
      conv1_(conv3x3x3(view.sub("conv1"), in, out)),
      conv2_(conv3x3x3(view.sub("conv2"), out, out)),
      has_shortcut_(in != out) {
  if (has_shortcut_) shortcut_ = CausalConv3d(view.sub("conv_shortcut"), in, out, {1, 1, 1});
}

at::Tensor ResidualBlock::forward(const at::Tensor& x, FeatureCache* cache) const {
  // The 1x1x1 shortcut pads nothing in time, so it never needs the cache.
  const at::Tensor h = has_shortcut_ ? (x.dim() == 4 ? shortcut_.forward_2d(x) : shortcut_.forward(x))
                                     : x;
  at::Tensor y = conv1_(at::silu(norm1_(x)), cache);
  y = conv2_(at::silu(norm2_(y)), cache);  // dropout is the identity at inference
  return y + h;
}

AttentionBlock::AttentionBlock(const io::WeightView& view, std::int64_t channels,
                               const ops::AttentionDispatch* attention)
    : attention_(attention),
      norm_(view.sub("norm"), channels, /*images=*/true),
      qkv_weight_(view.get("to_qkv.weight", {3 * channels, channels, 1, 1})),
      qkv_bias_(view.get("to_qkv.bias", {3 * channels})),
      proj_weight_(view.get("proj.weight", {channels, channels, 1, 1})),
      proj_bias_(view.get("proj.bias", {channels})) {}

at::Tensor AttentionBlock::attend(const at::Tensor& x) const {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const at::Tensor qkv = at::conv2d(norm_(x), qkv_weight_, qkv_bias_);  // [N, 3C, H, W]
  // [N, 3C, H, W] -> [N, 1, H*W, 3C]: one head, tokens are pixels.
  const at::Tensor tokens = qkv.reshape({n, 1, 3 * c, h * w}).permute({0, 1, 3, 2}).contiguous();
  const auto parts = tokens.chunk(3, -1);  // q, k, v: [N, 1, H*W, C]
  // Through the dispatch for its fused CUDA backends (head dim = channels: 384 in Wan2.1, beyond
  // FlashAttention and cuDNN, within the mem-efficient kernel).
  ops::AttentionOptions options;
  options.site = ops::AttentionSite::kVaeMid;
  options.dispatch = attention_;
  const at::Tensor attn = ops::attention(parts[0], parts[1], parts[2], options);
  // [N, 1, H*W, C] -> [N, C, H, W]
  const at::Tensor out = attn.squeeze(1).permute({0, 2, 1}).reshape({n, c, h, w});
  return at::conv2d(out, proj_weight_, proj_bias_);
}

at::Tensor AttentionBlock::forward(const at::Tensor& x, FeatureCache* /*cache*/) const {
  return per_frame(x, [this](const at::Tensor& f) { return attend(f); }) + x;
}

Resample::Resample(const io::WeightView& view, std::int64_t channels, ResampleMode mode)
    : mode_(mode) {
  const bool up = mode == ResampleMode::kUpsample2d || mode == ResampleMode::kUpsample3d;
  const std::int64_t out = up ? channels / 2 : channels;
  conv_weight_ = view.get("resample.1.weight", {out, channels, 3, 3});
  conv_bias_ = view.get("resample.1.bias", {out});
  if (mode == ResampleMode::kUpsample3d) {
    time_conv_ = CausalConv3d(view.sub("time_conv"), channels, 2 * channels, {3, 1, 1}, {1, 1, 1},
                              {1, 0, 0});
  } else if (mode == ResampleMode::kDownsample3d) {
    time_conv_ = CausalConv3d(view.sub("time_conv"), channels, channels, {3, 1, 1}, {2, 1, 1});
  }
}

at::Tensor Resample::spatial(const at::Tensor& x) const {
  switch (mode_) {
    case ResampleMode::kUpsample2d:
    case ResampleMode::kUpsample3d: {
      // nearest-exact x2 in fp32 (diffusers' WanUpsample), then a 3x3 conv.
      const at::Tensor up =
          at::_upsample_nearest_exact2d(x.to(at::kFloat), {2 * x.size(2), 2 * x.size(3)}, 2.0, 2.0)
              .to(x.scalar_type());
      return at::conv2d(up, conv_weight_, conv_bias_, 1, 1);
    }
    case ResampleMode::kDownsample2d:
    case ResampleMode::kDownsample3d:
      // ZeroPad2d((0, 1, 0, 1)): one column right, one row at the bottom; then stride 2.
      return at::conv2d(at::constant_pad_nd(x, {0, 1, 0, 1}), conv_weight_, conv_bias_, 2);
  }
  return {};
}

// Doubles T by a causal (3,1,1) conv to 2C channels whose halves become even/odd frames. The
// first chunk skips it and marks the slot: the next chunk then sees zero history, and after that
// the usual two frames (the first chunk's frame is never part of the history).
at::Tensor Resample::upsample_time(const at::Tensor& x, FeatureCache& cache) const {
  CacheSlot& slot = cache.next();
  if (!slot.frames.defined() && !slot.repeat) {
    slot.repeat = true;
    return x;
  }
  at::Tensor keep = x.slice(2, std::max<std::int64_t>(x.size(2) - kCacheFrames, 0));
  if (keep.size(2) < kCacheFrames) {
    keep = at::cat({slot.repeat ? at::zeros_like(keep) : slot.frames.slice(2, -1), keep}, 2);
  }
  const at::Tensor y = slot.repeat ? time_conv_.forward(x) : time_conv_.forward(x, slot.frames);
  slot.frames = keep.clone();
  slot.repeat = false;
  const std::int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  // [B, 2C, T, H, W] -> [B, 2, C, T, H, W] -> [B, C, T, 2, H, W] -> [B, C, 2T, H, W]
  const at::Tensor halves = y.reshape({b, 2, c, t, h, w});
  return at::stack({halves.select(1, 0), halves.select(1, 1)}, 3).reshape({b, c, 2 * t, h, w});
}

// Halves T with a stride-2 (3,1,1) conv over [last frame of the previous chunk, this chunk]. The
// first chunk passes through (only its last frame is remembered).
at::Tensor Resample::downsample_time(const at::Tensor& x, FeatureCache& cache) const {
  CacheSlot& slot = cache.next();
  const at::Tensor last = x.slice(2, -1).clone();
  if (!slot.frames.defined()) {
    slot.frames = last;
    return x;
  }
  const at::Tensor y = time_conv_.forward(at::cat({slot.frames, x}, 2));
  slot.frames = last;
  return y;
}

at::Tensor Resample::forward(const at::Tensor& x, FeatureCache* cache) const {
  const auto spatial_fn = [this](const at::Tensor& f) { return spatial(f); };
  if (x.dim() == 4) return spatial(x);  // single image: the time convs never run
  DUOGEN_CHECK(cache != nullptr, InvalidArgument, "Resample: a video chunk needs a feature cache");
  switch (mode_) {
    case ResampleMode::kUpsample3d:
      return per_frame(upsample_time(x, *cache), spatial_fn);
    case ResampleMode::kDownsample3d:
      return downsample_time(per_frame(x, spatial_fn), *cache);
    case ResampleMode::kUpsample2d:
    case ResampleMode::kDownsample2d:
      return per_frame(x, spatial_fn);
  }
  return {};
}

MidBlock::MidBlock(const io::WeightView& view, std::int64_t channels,
                   const ops::AttentionDispatch* attention)
    : res0_(view.sub("resnets.0"), channels, channels),
      attn_(view.sub("attentions.0"), channels, attention),
      res1_(view.sub("resnets.1"), channels, channels) {}

at::Tensor MidBlock::forward(const at::Tensor& x, FeatureCache* cache) const {
  return res1_.forward(attn_.forward(res0_.forward(x, cache), cache), cache);
}

}  // namespace duogen::wan_vae
