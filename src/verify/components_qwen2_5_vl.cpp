// Qwen2.5-VL components for `duogen verify`.
#include <ATen/ATen.h>

#include "core/check.h"
#include "io/checkpoint.h"
#include "kernels/ops/rms_norm.h"
#include "models/qwen2_5_vl/config.h"
#include "models/qwen2_5_vl/vision.h"
#include "models/qwen2_5_vl/weights.h"
#include "verify/components.h"

namespace duogen::verify {
namespace {

// Token embedding, then the first decoder layer's input RMSNorm (HF Qwen2RMSNorm numerics).
TensorMap text_embed_norm(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "qwen2_5_vl.text_embed_norm";
  const at::Tensor& ids = require_input(inputs, "input_ids", kName);
  DUOGEN_CHECK(ids.scalar_type() == at::kLong && ids.dim() == 2, FormatError,
               "{}: input_ids must be int64 [batch, length], got {} {}", kName,
               c10::toString(ids.scalar_type()), ids.sizes());

  const auto config = qwen2_5_vl::Config::from_directory(ctx.model);
  const auto& text = config.text;
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(ctx.model));
  io::WeightStore store(checkpoint, qwen2_5_vl::weight_load_options(ctx.dtype, ctx.device));
  auto model = store.root().sub("model");
  const at::Tensor embed = model.get("embed_tokens.weight", {text.vocab_size, text.hidden_size});
  const at::Tensor norm_w =
      model.sub("layers.0.input_layernorm").get("weight", {text.hidden_size});
  store.finish(kName, /*report_unused=*/false);  // this component reads two tensors on purpose

  DUOGEN_CHECK(ids.numel() == 0 || (ids.min().item<std::int64_t>() >= 0 &&
                                    ids.max().item<std::int64_t>() < text.vocab_size),
               InvalidArgument, "{}: input_ids outside [0, vocab_size={})", kName,
               text.vocab_size);
  const at::Tensor embeds = at::embedding(embed, ids.to(ctx.device));  // [B, L, H]
  const at::Tensor normed = ops::rms_norm(embeds, norm_w, text.rms_norm_eps);
  return {{"embeds", embeds}, {"layer0_input_norm", normed}};
}

// The vision tower: image patches -> merged embeddings (architecture.md §4).
TensorMap vision(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "qwen2_5_vl.vision";
  const at::Tensor& pixel_values = require_input(inputs, "pixel_values", kName);
  const at::Tensor& grid_thw = require_input(inputs, "image_grid_thw", kName);
  const auto tower = qwen2_5_vl::VisionTower::load(ctx.model, ctx.dtype, ctx.device);
  return {{"vision_embeds", tower.forward(pixel_values, grid_thw)}};
}

}  // namespace

void register_qwen2_5_vl_components(std::map<std::string, Component>& registry) {
  registry["qwen2_5_vl.text_embed_norm"] = {
      "Qwen2.5-VL token embedding + first decoder layer input RMSNorm", text_embed_norm};
  registry["qwen2_5_vl.vision"] = {
      "Qwen2.5-VL vision tower: pixel_values, image_grid_thw -> vision_embeds", vision};
}

}  // namespace duogen::verify
