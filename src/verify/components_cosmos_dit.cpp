// Cosmos-Predict2.5 DiT components for `duogen verify`:
//   cosmos_dit            inputs `x` [B, 16, T, H, W], `timesteps` (scalar, [B], [B, T] or
//                         [B, 1, T, 1, 1], model scale = sigma), `context` [B, L, C] (the
//                         connector input) or `hidden_states_all_layers` [E, L, H] / [B, E, L, H],
//                         optional `condition_mask` [B, 1, T, H, W] and `padding_mask`
//                         [B or 1, 1, h, w] -> `velocity` [B, 16, T, H, W]
//   cosmos_dit.connector  `hidden_states_all_layers` -> `features` (normalised, concatenated) and
//                         `context` (connector output)
//   cosmos_dit.packed     `frame.0` .. `frame.N` [B, 16, h_f, w_f] (the last is the target),
//                         `frame_timesteps` [B, N + 1], `frame_is_condition` [N + 1], `context`
//                         -> `velocity` of the target [B, 16, h_N, w_N]
#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/check.h"
#include "models/cosmos_dit/dit.h"
#include "verify/components.h"

namespace duogen::verify {
namespace {

cosmos_dit::CosmosDiT load_dit(const ComponentContext& ctx) {
  cosmos_dit::DitOptions options;
  options.dtype = ctx.dtype;
  options.device = ctx.device;
  return cosmos_dit::CosmosDiT::load(ctx.model, options);
}

at::Tensor optional_input(const TensorMap& inputs, const std::string& name) {
  const auto it = inputs.find(name);
  return it == inputs.end() ? at::Tensor() : it->second;
}

cosmos_dit::DitContext context_of(const cosmos_dit::CosmosDiT& dit, const TensorMap& inputs,
                                  const std::string& component) {
  if (inputs.count("hidden_states_all_layers") != 0) {
    return dit.prepare_context_from_hidden_states(inputs.at("hidden_states_all_layers"));
  }
  return dit.prepare_context(require_input(inputs, "context", component));
}

TensorMap velocity(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "cosmos_dit";
  const at::Tensor& x = require_input(inputs, "x", kName);
  const at::Tensor& timesteps = require_input(inputs, "timesteps", kName);
  const auto dit = load_dit(ctx);
  const auto context = context_of(dit, inputs, kName);
  return {{"velocity", dit.velocity(x, timesteps, context, optional_input(inputs, "condition_mask"),
                                    optional_input(inputs, "padding_mask"))}};
}

TensorMap connector(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "cosmos_dit.connector";
  const at::Tensor& hidden = require_input(inputs, "hidden_states_all_layers", kName);
  const auto dit = load_dit(ctx);
  const at::Tensor features =
      cosmos_dit::concat_normalized_layers(hidden, dit.connector().in_channels());
  const at::Tensor batched = features.dim() == 2 ? features.unsqueeze(0) : features;
  return {{"features", batched}, {"context", dit.connector().forward(batched)}};
}

TensorMap packed(const ComponentContext& ctx, const TensorMap& inputs) {
  const std::string kName = "cosmos_dit.packed";
  const at::Tensor steps = require_input(inputs, "frame_timesteps", kName);
  const at::Tensor is_cond = require_input(inputs, "frame_is_condition", kName).to(at::kLong);
  DUOGEN_CHECK(steps.dim() == 2 && is_cond.dim() == 1 && steps.size(1) == is_cond.size(0),
               FormatError, "{}: frame_timesteps must be [B, F] and frame_is_condition [F], got {} "
               "and {}", kName, steps.sizes(), is_cond.sizes());
  std::vector<cosmos_dit::PackedFrame> frames;
  for (std::int64_t f = 0; f < steps.size(1); ++f) {
    frames.push_back({require_input(inputs, fmt::format("frame.{}", f), kName),
                      steps.select(1, f), is_cond[f].item<std::int64_t>() != 0});
  }
  const auto dit = load_dit(ctx);
  return {{"velocity", dit.velocity_packed(frames, context_of(dit, inputs, kName))}};
}

}  // namespace

void register_cosmos_dit_components(std::map<std::string, Component>& registry) {
  registry["cosmos_dit"] = {"Cosmos DiT velocity (dense [B, C, T, H, W] form)", velocity};
  registry["cosmos_dit.connector"] = {
      "MLLM all-layer hidden states -> normalised concatenation -> connector", connector};
  registry["cosmos_dit.packed"] = {"Cosmos DiT velocity of the target frame of packed frames",
                                   packed};
}

}  // namespace duogen::verify
