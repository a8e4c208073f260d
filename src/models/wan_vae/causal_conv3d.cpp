#include "models/wan_vae/causal_conv3d.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace duogen::wan_vae {

CacheSlot& FeatureCache::next() {
  if (cursor_ == slots_.size()) slots_.emplace_back();
  return slots_[cursor_++];
}

CausalConv3d::CausalConv3d(const io::WeightView& view, std::int64_t in, std::int64_t out,
                           std::array<std::int64_t, 3> kernel, std::array<std::int64_t, 3> stride,
                           std::array<std::int64_t, 3> padding)
    : weight_(view.get("weight", {out, in, kernel[0], kernel[1], kernel[2]})),
      bias_(view.get("bias", {out})),
      stride_(stride),
      padding_(padding) {}

at::Tensor CausalConv3d::forward(const at::Tensor& x, const at::Tensor& history) const {
  at::Tensor input = x;
  std::int64_t front = 2 * padding_[0];
  // The reference only uses history when the conv pads time (k_t = 1 convs ignore it).
  if (history.defined() && front > 0) {
    input = at::cat({history, x}, 2);
    front -= history.size(2);
  }
  if (front > 0) input = at::constant_pad_nd(input, {0, 0, 0, 0, front, 0});
  // Spatial zero padding is symmetric, so conv3d's own padding does it without a padded copy.
  return at::conv3d(input, weight_, bias_, stride_, {0, padding_[1], padding_[2]});
}

at::Tensor CausalConv3d::forward(const at::Tensor& x, FeatureCache& cache) const {
  CacheSlot& slot = cache.next();
  // [B, C, <=2, H, W]: this chunk's last frames, topped up from the previous chunk when the
  // chunk is a single frame.
  at::Tensor keep = x.slice(2, std::max<std::int64_t>(x.size(2) - kCacheFrames, 0));
  if (keep.size(2) < kCacheFrames && slot.frames.defined()) {
    keep = at::cat({slot.frames.slice(2, -1), keep}, 2);
  }
  at::Tensor y = forward(x, slot.frames);
  slot.frames = keep.clone();  // a copy, so the chunk's activation can be freed
  return y;
}

at::Tensor CausalConv3d::forward_2d(const at::Tensor& x) const {
  const std::int64_t last_tap = weight_.size(2) - 1;
  return at::conv2d(x, weight_.select(2, last_tap), bias_, {stride_[1], stride_[2]},
                    {padding_[1], padding_[2]});
}

at::Tensor CausalConv3d::operator()(const at::Tensor& x, FeatureCache* cache) const {
  if (x.dim() == 4) return forward_2d(x);
  DUOGEN_CHECK(x.dim() == 5 && cache != nullptr, InvalidArgument,
               "CausalConv3d: expected [B, C, H, W], or [B, C, T, H, W] with a feature cache; "
               "got {} dims",
               x.dim());
  return forward(x, *cache);
}

}  // namespace duogen::wan_vae
