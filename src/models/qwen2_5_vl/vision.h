// The Qwen2.5-VL vision tower (architecture.md §4): pixel patches -> merged image embeddings for
// the language model's <|image_pad|> positions.
//
// Follows transformers 5.23 `Qwen2_5_VisionTransformerPretrainedModel`
// (models/qwen2_5_vl/modeling_qwen2_5_vl.py, with vision_utils.get_vision_window_index /
// get_vision_position_ids): Conv3d patch embedding (as a matmul), 2D rotary embedding, window
// attention on 112-px windows with full attention per frame in `fullatt_block_indexes`,
// RMSNorm + SwiGLU blocks, the patch merger (ln_q + MLP), and the window permutation undone.
//
//   io::WeightStore store(checkpoint, qwen2_5_vl::weight_load_options(at::kBFloat16));
//   qwen2_5_vl::VisionTower tower(config.vision, store.root().sub("visual"));
//   store.finish("Qwen2.5-VL vision tower", /*report_unused=*/false);
//   at::Tensor embeds = tower.forward(batch.pixel_values, batch.grid_thw);  // [tokens, 3584]
//
// CLI: duogen verify --model DIR --reference qwen2_5_vl.vision.<case>.safetensors
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/weight_loader.h"
#include "kernels/ops/attention.h"
#include "models/qwen2_5_vl/activation.h"
#include "models/qwen2_5_vl/config.h"

namespace duogen::qwen2_5_vl {

// Where every patch goes for attention, computed from grid_thw alone (CPU, int64).
struct VisionLayout {
  at::Tensor positions;          // [N, 2] (row, col) of each patch in patch units, input order
  at::Tensor window_index;       // [N / m^2]: merged unit placed at window-ordered slot i
  at::Tensor cu_window_seqlens;  // [windows + 1] patch offsets of the windows (window order)
  at::Tensor cu_seqlens;         // [frames + 1] patch offsets of each image frame
};

// Throws InvalidArgument unless grid_thw is an integer [n, 3] tensor of positive (t, h, w) with
// h and w multiples of spatial_merge_size.
VisionLayout vision_layout(const VisionConfig& config, const at::Tensor& grid_thw);

class VisionTower {
 public:
  // `weights` views the tower's tensors (the checkpoint's `visual.` prefix): every tensor is
  // requested here with its expected shape, so the store's finish() reports all problems at
  // once. The compute dtype is the dtype the store loads the weights in. Throws InvalidArgument
  // for an inconsistent config (head_dim not a multiple of 4, unknown hidden_act, ...).
  VisionTower(const VisionConfig& config, const io::WeightView& weights);

  // Loads `visual.*` of the checkpoint at `model` (directory with config.json, either name
  // layout) in `dtype` (nullopt: as stored) on `device`. Throws WeightError listing every missing
  // or mis-shaped tensor.
  static VisionTower load(const std::filesystem::path& model,
                          std::optional<c10::ScalarType> dtype = std::nullopt,
                          c10::Device device = c10::kCPU);

  // pixel_values: float [N, in_channels * temporal_patch_size * patch_size^2] in the image
  // processor's row order; grid_thw: integer [n_images, 3] with sum(t * h * w) = N. Returns
  // [N / spatial_merge_size^2, out_hidden_size] in the weights' dtype: images in order, each in
  // merge-block raster order. Throws InvalidArgument naming the mismatch for wrong shapes.
  at::Tensor forward(const at::Tensor& pixel_values, const at::Tensor& grid_thw) const;

  const VisionConfig& config() const { return config_; }
  // The engine's attention dispatch (measured table, usage counts); null: the built-in order.
  void set_attention(std::shared_ptr<const ops::AttentionDispatch> dispatch) {
    attention_ = std::move(dispatch);
  }
  c10::ScalarType dtype() const;
  c10::Device device() const;

 private:
  struct Block {
    at::Tensor norm1, norm2;                  // [hidden]
    at::Tensor qkv_w, qkv_b, proj_w, proj_b;  // [3 hidden, hidden] [3 hidden] [hidden, hidden]
    at::Tensor gate_w, gate_b, up_w, up_b;    // [inter, hidden] [inter]
    at::Tensor down_w, down_b;                // [hidden, inter] [hidden]
  };

  at::Tensor rotary(const at::Tensor& positions) const;  // -> (cos | sin) [2, N, head_dim], fp32
  at::Tensor block_forward(const Block& block,
                           const at::Tensor& x,
                           const at::Tensor& cos,
                           const at::Tensor& sin,
                           const ops::VarlenLayout& segments,
                           ops::AttentionSite site) const;

  VisionConfig config_;
  Activation activation_ = Activation::kSilu;  // config_.hidden_act
  at::Tensor patch_w_;                         // [hidden, C, T, P, P]
  std::vector<Block> blocks_;
  at::Tensor ln_q_;                               // [hidden]
  at::Tensor mlp0_w_, mlp0_b_, mlp2_w_, mlp2_b_;  // merger MLP
  std::shared_ptr<const ops::AttentionDispatch> attention_;
};

}  // namespace duogen::qwen2_5_vl
