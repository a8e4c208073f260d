#include "pipeline/latent_sampler.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace duogen::pipeline {

namespace flow = sampling::flow;

CfgContexts prepare_cfg_contexts(const cosmos_dit::CosmosDiT& dit, const at::Tensor& hidden,
                                 std::int64_t negative_length, bool zero_negative) {
  DUOGEN_CHECK(hidden.dim() == 3 && hidden.size(1) > 0, InvalidArgument,
               "image context must be [layers + 1, tokens, hidden], got {}", hidden.sizes());
  DUOGEN_CHECK(negative_length > 0 && negative_length <= hidden.size(1), InvalidArgument,
               "negative context length {} outside [1, {}]", negative_length, hidden.size(1));
  CfgContexts contexts{dit.prepare_context_from_hidden_states(hidden), {}};
  contexts.negative =
      zero_negative
          ? dit.prepare_context(
                at::zeros({hidden.size(1), dit.connector().in_channels()}, hidden.options()))
          : dit.prepare_context_from_hidden_states(hidden.slice(1, 0, negative_length));
  return contexts;
}

at::Tensor sample_latent(const cosmos_dit::CosmosDiT& dit, const CfgContexts& contexts,
                         const std::vector<at::Tensor>& conditions, const at::Tensor& noise,
                         const LatentSamplerOptions& options, const flow::ProgressFn& progress) {
  const std::int64_t channels = dit.config().latent_channels();
  const auto check_latent = [&](const at::Tensor& t, const char* what) {
    DUOGEN_CHECK(t.dim() == 5 && t.size(0) == 1 && t.size(1) == channels && t.size(2) == 1,
                 InvalidArgument, "{} must be [1, {}, 1, h, w], got {}", what, channels,
                 t.sizes());
  };
  check_latent(noise, "the noise");
  for (const auto& c : conditions) check_latent(c, "a condition latent");

  std::vector<bool> is_condition(conditions.size(), true);
  is_condition.push_back(false);
  // The packed frames of one step for a latent batch of `batch` (the condition latents are
  // shared by every row).
  const auto velocity = [&](const at::Tensor& x, const flow::StepContext& step,
                            const cosmos_dit::DitContext& context, std::int64_t batch) {
    const double t = flow::network_time(step, options.network_time);
    const at::Tensor per_frame =
        flow::frame_timesteps(is_condition, t, options.frames).to(x.device());
    std::vector<cosmos_dit::PackedFrame> frames;
    for (std::size_t i = 0; i < conditions.size(); ++i) {
      frames.push_back({conditions[i].expand({batch, -1, -1, -1, -1}),
                        per_frame.narrow(0, i, 1), true});
    }
    frames.push_back({x.expand({batch, -1, -1, -1, -1}), per_frame.narrow(0, conditions.size(), 1),
                      false});
    return dit.velocity_packed(frames, context);
  };
  const auto& cfg = options.sampler.cfg;
  if (options.batch_cfg && flow::cfg_needs_uncond(cfg)) {
    const cosmos_dit::DitContext both = cosmos_dit::stack_contexts(
        {&contexts.positive, &contexts.negative});
    const flow::VelocityFn guided = [&](const at::Tensor& x, const flow::StepContext& step) {
      const at::Tensor v = velocity(x, step, both, 2);
      return flow::cfg_combine(v.narrow(0, 0, 1), v.narrow(0, 1, 1), cfg);
    };
    return flow::sample(noise, guided, options.sampler, progress);
  }
  const auto branch = [&](const cosmos_dit::DitContext& context) {
    return [&, ctx = &context](const at::Tensor& x, const flow::StepContext& step) {
      return velocity(x, step, *ctx, 1);
    };
  };
  return flow::sample_cfg(noise, branch(contexts.positive), branch(contexts.negative),
                          options.sampler, progress);
}

}  // namespace duogen::pipeline
