#include "models/cosmos_dit/rope3d.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/check.h"
#include "kernels/ops/rotary.h"

namespace duogen::cosmos_dit {
namespace {

// 1 / theta^(arange(0, dim, 2) / dim), theta with the NTK factor, in diffusers' operation order.
at::Tensor frequencies(std::int64_t dim, double scale) {
  const double theta =
      10000.0 * std::pow(scale, static_cast<double>(dim) / static_cast<double>(dim - 2));
  const at::Tensor range = at::arange(0, dim, 2, at::kFloat).slice(0, 0, dim / 2) /
                           static_cast<double>(dim);
  return 1.0 / at::pow(theta, range);
}

}  // namespace

Rope3D::Rope3D(const Config& config)
    : head_dim_(config.attention_head_dim),
      dim_t_(0),
      dim_h_(config.attention_head_dim / 6 * 2),
      dim_w_(config.attention_head_dim / 6 * 2),
      max_t_(config.max_size[0] / config.patch_size[0]),
      max_h_(config.max_size[1] / config.patch_size[1]),
      max_w_(config.max_size[2] / config.patch_size[2]) {
  dim_t_ = head_dim_ - dim_h_ - dim_w_;
  freq_t_ = frequencies(dim_t_, config.rope_scale[0]);
  freq_h_ = frequencies(dim_h_, config.rope_scale[1]);
  freq_w_ = frequencies(dim_w_, config.rope_scale[2]);
}

RopeTables Rope3D::tables(const std::vector<FrameGrid>& frames, const c10::Device& device) const {
  std::vector<at::Tensor> parts;
  parts.reserve(frames.size());
  for (const auto& f : frames) {
    DUOGEN_CHECK(f.t_index >= 0 && f.t_index < max_t_ && f.height > 0 && f.height <= max_h_ &&
                     f.width > 0 && f.width <= max_w_,
                 InvalidArgument,
                 "Cosmos DiT RoPE: frame {} of {}x{} tokens is outside the trained range "
                 "(frames < {}, tokens per side <= {} x {})",
                 f.t_index, f.height, f.width, max_t_, max_h_, max_w_);
    const std::int64_t n = f.height * f.width;
    const at::Tensor y = at::arange(f.height, at::kFloat);
    const at::Tensor x = at::arange(f.width, at::kFloat);
    const at::Tensor t = at::full({1}, static_cast<double>(f.t_index), at::kFloat);
    const at::Tensor et = at::outer(t, freq_t_).expand({n, dim_t_ / 2});
    const at::Tensor eh =
        at::outer(y, freq_h_).unsqueeze(1).expand({f.height, f.width, dim_h_ / 2}).reshape({n, -1});
    const at::Tensor ew =
        at::outer(x, freq_w_).unsqueeze(0).expand({f.height, f.width, dim_w_ / 2}).reshape({n, -1});
    parts.push_back(at::cat({et, eh, ew, et, eh, ew}, 1));
  }
  const at::Tensor angles = at::cat(parts, 0).to(device);
  return {at::cos(angles), at::sin(angles)};
}

RopeTables Rope3D::tables(std::int64_t frames, std::int64_t height, std::int64_t width,
                          const c10::Device& device) const {
  std::vector<FrameGrid> grid;
  for (std::int64_t t = 0; t < frames; ++t) grid.push_back({t, height, width});
  return tables(grid, device);
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope) {
  const std::int64_t d = x.size(-1);
  DUOGEN_CHECK(x.dim() == 4 && rope.cos.size(0) == x.size(1) && rope.cos.size(1) == d,
               InvalidArgument, "apply_rope: x {} does not fit tables {}", x.sizes(),
               rope.cos.sizes());
  // diffusers rotates in fp32 and rounds once: the fused rotary kernel's arithmetic on CUDA.
  return ops::apply_rotary(x, rope.cos, rope.sin);
}

}  // namespace duogen::cosmos_dit
