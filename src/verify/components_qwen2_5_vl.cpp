// Qwen2.5-VL components for `duogen verify`:
//   qwen2_5_vl.text_embed_norm  token embedding + layer 0's input RMSNorm
//   qwen2_5_vl                  the whole model on a prompt (tools/reference/dump_qwen2_5_vl.py):
//       inputs  input_ids [1, T]; images: image_grid_thw [n, 3] and vision_embeds [N/4, H] (the
//               vision tower's merged output; pixel_values alone need the vision tower);
//               max_new_tokens [1], eos_token_id [k]
//       outputs logits [1, T, V], hidden_states [L+1, 1, T, H], position_ids [3, 1, T],
//               rope_deltas [1, 1], generated_ids [1, G] (greedy, stop token included)
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/check.h"
#include "io/checkpoint.h"
#include "kernels/ops/rms_norm.h"
#include "models/qwen2_5_vl/config.h"
#include "models/qwen2_5_vl/vision.h"
#include "models/qwen2_5_vl/generate.h"
#include "models/qwen2_5_vl/model.h"
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

std::vector<qwen2_5_vl::ImageGrid> image_grids(const at::Tensor& thw, const std::string& name) {
  DUOGEN_CHECK(thw.dim() == 2 && thw.size(1) == 3, FormatError,
               "{}: image_grid_thw must be [n, 3], got {}", name, thw.sizes());
  const at::Tensor t = thw.to(at::kCPU, at::kLong).contiguous();
  std::vector<qwen2_5_vl::ImageGrid> grids;
  for (std::int64_t i = 0; i < t.size(0); ++i) {
    grids.push_back({t[i][0].item<std::int64_t>(), t[i][1].item<std::int64_t>(),
                     t[i][2].item<std::int64_t>()});
  }
  return grids;
}

std::vector<std::int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kLong).contiguous().reshape({-1});
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

// The whole language model: a full forward with every hidden state, then greedy generation.
TensorMap full_model(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "qwen2_5_vl";
  c10::InferenceMode guard;
  const at::Tensor& ids = require_input(inputs, "input_ids", kName);
  DUOGEN_CHECK(ids.scalar_type() == at::kLong && ids.dim() == 2 && ids.size(0) == 1, FormatError,
               "{}: input_ids must be int64 [1, T], got {} {}", kName,
               c10::toString(ids.scalar_type()), ids.sizes());
  qwen2_5_vl::ModelOptions options;
  options.dtype = ctx.dtype;
  options.device = ctx.device;
  const auto model = qwen2_5_vl::Model::load(ctx.model, options);

  qwen2_5_vl::ChunkInput prompt;
  prompt.input_ids = ids;
  if (inputs.count("image_grid_thw") != 0) {
    prompt.image_grids = image_grids(inputs.at("image_grid_thw"), kName);
    // Images run through duogen's own vision tower when the dump has pixel_values (the whole
    // MLLM is then checked); a dump with only the tower's output checks the language model.
    if (inputs.count("pixel_values") != 0) {
      const auto tower = qwen2_5_vl::VisionTower::load(ctx.model, ctx.dtype, ctx.device);
      prompt.image_embeds = tower.forward(inputs.at("pixel_values"), inputs.at("image_grid_thw"));
    } else {
      DUOGEN_CHECK(inputs.count("vision_embeds") != 0, FormatError,
                   "{}: the dump has image_grid_thw but neither pixel_values nor vision_embeds",
                   kName);
      prompt.image_embeds = inputs.at("vision_embeds");
    }
  }
  prompt.logits = qwen2_5_vl::LogitsMode::kAll;
  prompt.capture_hidden_states = true;
  auto session = model.new_session();
  const auto out = model.forward(session, prompt);
  const std::int64_t t = ids.size(1);
  TensorMap result;
  result["logits"] = out.logits.unsqueeze(0);                   // [1, T, V]
  result["hidden_states"] = out.hidden_states.unsqueeze(1);     // [L + 1, 1, T, H]
  result["position_ids"] = out.positions.unsqueeze(1);          // [3, 1, T]
  result["rope_deltas"] =
      at::full({1, 1}, qwen2_5_vl::rope_delta(session.next_position(), t), at::kLong);

  qwen2_5_vl::GenerationOptions gen;
  gen.max_new_tokens = to_vector(require_input(inputs, "max_new_tokens", kName)).at(0);
  gen.stop_token_ids = to_vector(require_input(inputs, "eos_token_id", kName));
  auto gen_session = model.new_session();
  const auto generated = qwen2_5_vl::generate(model, gen_session, prompt, gen);
  result["generated_ids"] = at::tensor(generated.tokens, at::kLong).unsqueeze(0);
  if (inputs.count("pixel_values") != 0) result["vision_embeds"] = prompt.image_embeds;
  return result;
}

}  // namespace

void register_qwen2_5_vl_components(std::map<std::string, Component>& registry) {
  registry["qwen2_5_vl.text_embed_norm"] = {
      "Qwen2.5-VL token embedding + first decoder layer input RMSNorm", text_embed_norm};
  registry["qwen2_5_vl.vision"] = {
      "Qwen2.5-VL vision tower: pixel_values, image_grid_thw -> vision_embeds", vision};
  registry["qwen2_5_vl"] = {
      "Qwen2.5-VL: logits, all hidden states, M-RoPE positions and greedy generation for a "
      "prompt (images as pixel_values through the vision tower, or as its embeddings)",
      full_model};
}

}  // namespace duogen::verify
