#include "models/qwen2_5_vl/vision.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <memory>

#include "core/check.h"
#include "io/checkpoint.h"
#include "kernels/ops/add_rms_norm.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/rms_norm.h"
#include "kernels/ops/rotary.h"
#include "models/qwen2_5_vl/weights.h"

namespace duogen::qwen2_5_vl {
namespace {

constexpr double kNormEps = 1e-6;  // every vision RMSNorm (blocks and merger ln_q)

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::linear(x, w, b);
}

std::vector<std::array<std::int64_t, 3>> read_grid(const at::Tensor& grid_thw, std::int64_t merge) {
  DUOGEN_CHECK(
      grid_thw.defined() && grid_thw.dim() == 2 && grid_thw.size(1) == 3 && grid_thw.size(0) > 0 &&
          !at::isFloatingType(grid_thw.scalar_type()) && grid_thw.scalar_type() != at::kBool,
      InvalidArgument, "vision tower: grid_thw must be an integer [n_images, 3] tensor, got {}",
      grid_thw.defined() ? grid_thw.sizes() : c10::IntArrayRef{});
  const at::Tensor g = grid_thw.to(at::kCPU, at::kLong).contiguous();
  const auto* p = g.data_ptr<std::int64_t>();
  std::vector<std::array<std::int64_t, 3>> grid;
  for (std::int64_t i = 0; i < g.size(0); ++i) {
    const std::int64_t t = p[3 * i], h = p[3 * i + 1], w = p[3 * i + 2];
    DUOGEN_CHECK(t > 0 && h > 0 && w > 0 && h % merge == 0 && w % merge == 0, InvalidArgument,
                 "vision tower: grid_thw row {} = ({}, {}, {}) must be positive with h and w "
                 "multiples of spatial_merge_size {}",
                 i, t, h, w, merge);
    grid.push_back({t, h, w});
  }
  return grid;
}

at::Tensor long_tensor(const std::vector<std::int64_t>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

VisionLayout vision_layout(const VisionConfig& config, const at::Tensor& grid_thw) {
  const std::int64_t m = config.spatial_merge_size;
  const auto grid = read_grid(grid_thw, m);
  // Window side in merged units: 112 px / (2 * 14 px) = 4.
  const std::int64_t win = config.window_size / m / config.patch_size;
  DUOGEN_CHECK(win > 0, InvalidArgument,
               "vision tower: window_size {} is smaller than one merged unit ({} px)",
               config.window_size, m * config.patch_size);
  const std::int64_t unit = m * m;
  std::vector<std::int64_t> positions, window_index, cu_window = {0}, cu_frames = {0};
  std::int64_t unit_base = 0;
  for (const auto& [t, h, w] : grid) {
    const std::int64_t mh = h / m, mw = w / m;
    for (std::int64_t f = 0; f < t; ++f) {
      // Patch coordinates in processor order: merge blocks row-major, 2x2 inside each block.
      for (std::int64_t bh = 0; bh < mh; ++bh)
        for (std::int64_t bw = 0; bw < mw; ++bw)
          for (std::int64_t ih = 0; ih < m; ++ih)
            for (std::int64_t iw = 0; iw < m; ++iw) {
              positions.push_back(bh * m + ih);
              positions.push_back(bw * m + iw);
            }
      cu_frames.push_back(cu_frames.back() + h * w);
      // Windows of win x win merged units, row-major; units inside a window row-major. The
      // reference pads the grid to whole windows (a full extra window when already whole); the
      // padding never holds units, so the empty windows it makes are simply skipped.
      const std::int64_t frame_base = unit_base + f * mh * mw;
      for (std::int64_t wy = 0; wy < mh; wy += win)
        for (std::int64_t wx = 0; wx < mw; wx += win) {
          std::int64_t count = 0;
          for (std::int64_t y = wy; y < std::min(wy + win, mh); ++y)
            for (std::int64_t x = wx; x < std::min(wx + win, mw); ++x, ++count) {
              window_index.push_back(frame_base + y * mw + x);
            }
          cu_window.push_back(cu_window.back() + count * unit);
        }
    }
    unit_base += t * mh * mw;
  }
  const auto n = static_cast<std::int64_t>(positions.size() / 2);
  return {long_tensor(positions).view({n, 2}), long_tensor(window_index), long_tensor(cu_window),
          long_tensor(cu_frames)};
}

VisionTower::VisionTower(const VisionConfig& config, const io::WeightView& weights)
    : config_(config) {
  const auto& c = config_;
  DUOGEN_CHECK(c.hidden_size > 0 && c.num_heads > 0 && c.hidden_size % c.num_heads == 0 &&
                   c.head_dim() % 4 == 0,
               InvalidArgument,
               "vision tower: hidden_size {} / num_heads {} must give a head_dim divisible by 4 "
               "(2D rotary embedding)",
               c.hidden_size, c.num_heads);
  const auto activation = activation_from_name(c.hidden_act);
  DUOGEN_CHECK(activation.has_value(), InvalidArgument, "vision tower: hidden_act '{}': {}",
               c.hidden_act, activation_refusal(c.hidden_act));
  activation_ = *activation;
  DUOGEN_CHECK(c.depth >= 0 && c.spatial_merge_size > 0 && c.patch_size > 0 &&
                   c.temporal_patch_size > 0 && c.in_channels > 0 && c.out_hidden_size > 0,
               InvalidArgument, "vision tower: non-positive sizes in the vision config");
  const std::int64_t d = c.hidden_size, inter = c.intermediate_size;
  patch_w_ =
      weights.sub("patch_embed.proj")
          .get("weight", {d, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size});
  for (std::int64_t i = 0; i < c.depth; ++i) {
    const auto b = weights.sub("blocks." + std::to_string(i));
    Block blk;
    blk.norm1 = b.get("norm1.weight", {d});
    blk.norm2 = b.get("norm2.weight", {d});
    blk.qkv_w = b.get("attn.qkv.weight", {3 * d, d});
    blk.qkv_b = b.get("attn.qkv.bias", {3 * d});
    blk.proj_w = b.get("attn.proj.weight", {d, d});
    blk.proj_b = b.get("attn.proj.bias", {d});
    blk.gate_w = b.get("mlp.gate_proj.weight", {inter, d});
    blk.gate_b = b.get("mlp.gate_proj.bias", {inter});
    blk.up_w = b.get("mlp.up_proj.weight", {inter, d});
    blk.up_b = b.get("mlp.up_proj.bias", {inter});
    blk.down_w = b.get("mlp.down_proj.weight", {d, inter});
    blk.down_b = b.get("mlp.down_proj.bias", {d});
    blocks_.push_back(std::move(blk));
  }
  const auto merger = weights.sub("merger");
  const std::int64_t merged = d * c.spatial_merge_size * c.spatial_merge_size;
  ln_q_ = merger.get("ln_q.weight", {d});
  mlp0_w_ = merger.get("mlp.0.weight", {merged, merged});
  mlp0_b_ = merger.get("mlp.0.bias", {merged});
  mlp2_w_ = merger.get("mlp.2.weight", {c.out_hidden_size, merged});
  mlp2_b_ = merger.get("mlp.2.bias", {c.out_hidden_size});
}

VisionTower VisionTower::load(const std::filesystem::path& model,
                              std::optional<c10::ScalarType> dtype,
                              c10::Device device) {
  c10::InferenceMode guard;
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(model));
  const Config config = Config::from_directory(checkpoint->directory());
  io::WeightStore store(checkpoint, weight_load_options(dtype, device));
  VisionTower tower(config.vision, store.root().sub("visual"));
  store.finish("Qwen2.5-VL vision tower", /*report_unused=*/false);  // the LM is not ours
  return tower;
}

c10::ScalarType VisionTower::dtype() const { return patch_w_.scalar_type(); }
c10::Device VisionTower::device() const { return patch_w_.device(); }

at::Tensor VisionTower::rotary(const at::Tensor& positions) const {
  // transformers' axial rope: inv_freq over head_dim / 2 rotary dims, the same frequencies for
  // rows and columns, computed in fp32 like the reference (theta ** (arange / dim) in fp32).
  const std::int64_t spatial_dim = config_.head_dim() / 2;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor exponent = at::arange(0, spatial_dim, 2, f32) / static_cast<double>(spatial_dim);
  const at::Tensor inv_freq = 1.0 / at::pow(config_.rope_theta, exponent);     // [head_dim / 4]
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [N, 2, hd/4]
  const auto compose = [](const at::Tensor& v) {
    // [row freqs | col freqs] (head_dim / 2 values, 40 for the real model), duplicated so that
    // rotate-half pairs dim i with i + head_dim / 2.
    const at::Tensor hw = at::cat({v.select(1, 0), v.select(1, 1)}, -1);
    return at::cat({hw, hw}, -1);  // [N, head_dim]
  };
  return at::stack({compose(freqs.cos()), compose(freqs.sin())}, 0);
}

at::Tensor VisionTower::block_forward(const Block& b,
                                      const at::Tensor& x,
                                      const at::Tensor& cos,
                                      const at::Tensor& sin,
                                      const ops::VarlenLayout& segments,
                                      ops::AttentionSite site) const {
  const std::int64_t n = x.size(0), heads = config_.num_heads, hd = config_.head_dim();
  const at::Tensor h = ops::rms_norm(x, b.norm1, kNormEps);
  const at::Tensor qkv = linear(h, b.qkv_w, b.qkv_b).view({n, 3, heads, hd});  // [N, 3, H, D]
  // RoPE in fp32 (the reference upcasts q and k), then back to the compute dtype: the fused
  // rotary kernel's arithmetic on CUDA. [N, H, D] as a batch of one; tables [N, D].
  const auto rope = [&](const at::Tensor& t) {
    return ops::apply_rotary(t.unsqueeze(0), cos.squeeze(1), sin.squeeze(1)).squeeze(0);
  };
  const at::Tensor q = rope(qkv.select(1, 0));
  const at::Tensor k = rope(qkv.select(1, 1));
  const at::Tensor v = qkv.select(1, 2);
  ops::AttentionOptions options;
  options.scale = 1.0 / std::sqrt(static_cast<double>(hd));
  options.site = site;
  options.dispatch = attention_.get();
  const at::Tensor attn = ops::varlen_attention(q, k, v, segments, options);
  // The residual add and norm2 fused, then the gated MLP.
  const auto [h2, out] =
      ops::add_rms_norm(linear(attn.reshape({n, heads * hd}), b.proj_w, b.proj_b), x, b.norm2,
                        kNormEps);
  const at::Tensor mlp =
      linear(gated_mlp(activation_, linear(h2, b.gate_w, b.gate_b), linear(h2, b.up_w, b.up_b)),
             b.down_w, b.down_b);
  return out + mlp;
}

at::Tensor VisionTower::forward(const at::Tensor& pixel_values, const at::Tensor& grid_thw) const {
  c10::InferenceMode guard;
  const auto& c = config_;
  const std::int64_t patch_dim =
      c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size;
  DUOGEN_CHECK(pixel_values.defined() && pixel_values.dim() == 2 &&
                   pixel_values.size(1) == patch_dim &&
                   at::isFloatingType(pixel_values.scalar_type()),
               InvalidArgument,
               "vision tower: pixel_values must be a float [N, {}] tensor (C * T * P * P), got {}",
               patch_dim, pixel_values.defined() ? pixel_values.sizes() : c10::IntArrayRef{});
  const VisionLayout layout = vision_layout(c, grid_thw);
  const std::int64_t n = layout.positions.size(0);
  DUOGEN_CHECK(pixel_values.size(0) == n, InvalidArgument,
               "vision tower: grid_thw {} describes {} patches, pixel_values has {} rows",
               grid_thw.sizes(), n, pixel_values.size(0));
  const std::int64_t unit = c.spatial_merge_size * c.spatial_merge_size;
  const auto device = patch_w_.device();
  const auto dtype = patch_w_.scalar_type();

  // Patch embedding: Conv3d with kernel = stride = (T, P, P) over one patch is a matmul.
  at::Tensor x =
      at::matmul(pixel_values.to(device, dtype), patch_w_.reshape({c.hidden_size, -1}).t());

  // Window order, moving each merged unit (m^2 consecutive patches) as a whole.
  const at::Tensor window_index = layout.window_index.to(device);
  const auto to_window_order = [&](const at::Tensor& t) {
    const at::Tensor units = t.reshape({n / unit, unit, -1}).index_select(0, window_index);
    return units.reshape({n, -1});
  };
  x = to_window_order(x);
  const at::Tensor cos_sin = rotary(layout.positions).to(device);   // [2, N, head_dim]
  const at::Tensor cos = to_window_order(cos_sin[0]).unsqueeze(1);  // [N, 1, head_dim]
  const at::Tensor sin = to_window_order(cos_sin[1]).unsqueeze(1);

  // Both segmentations are made (and copied to the device) once for all blocks.
  const ops::VarlenLayout frames = ops::VarlenLayout::make(layout.cu_seqlens, layout.cu_seqlens, device);
  const ops::VarlenLayout windows =
      ops::VarlenLayout::make(layout.cu_window_seqlens, layout.cu_window_seqlens, device);
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const bool full = std::find(c.fullatt_block_indexes.begin(), c.fullatt_block_indexes.end(),
                                static_cast<std::int64_t>(i)) != c.fullatt_block_indexes.end();
    x = full ? block_forward(blocks_[i], x, cos, sin, frames, ops::AttentionSite::kVitFull)
             : block_forward(blocks_[i], x, cos, sin, windows, ops::AttentionSite::kVitWindow);
  }

  // Merger: RMSNorm per patch, the m^2 patches of a unit concatenated, MLP with exact GELU.
  const at::Tensor merged = ops::rms_norm(x, ln_q_, kNormEps).reshape({n / unit, -1});
  const at::Tensor out = linear(at::gelu(linear(merged, mlp0_w_, mlp0_b_)), mlp2_w_, mlp2_b_);
  return out.index_select(0, at::argsort(window_index));  // back to raster order
}

}  // namespace duogen::qwen2_5_vl
