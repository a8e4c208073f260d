#include "pipeline/duogen_image_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/check.h"
#include "image/resample.h"
#include "pipeline/conditioning.h"
#include "pipeline/timing.h"
#include "sampling/flow/conditioning.h"
#include "sampling/flow/noise.h"
#include "sampling/flow/sampler.h"

namespace duogen::pipeline {
namespace {

namespace flow = sampling::flow;

flow::SamplerOptions sampler_options(const ImageRequest& request, const ModelManifest& manifest) {
  flow::SamplerOptions o;
  o.schedule.steps = static_cast<int>(request.steps);
  o.schedule.shift = manifest.shift;
  if (request.schedule == "linear_shift") {
    o.schedule.kind = flow::ScheduleKind::kLinearShift;
  } else if (request.schedule == "karras") {
    o.schedule.kind = flow::ScheduleKind::kKarras;
  } else {
    DUOGEN_FAIL(InvalidArgument, "unknown schedule '{}' (linear_shift or karras)",
                request.schedule);
  }
  if (request.solver == "unipc") {
    o.solver = flow::SolverKind::kUniPC;
  } else if (request.solver == "euler") {
    o.solver = flow::SolverKind::kEuler;
  } else {
    DUOGEN_FAIL(InvalidArgument, "unknown solver '{}' (unipc or euler)", request.solver);
  }
  o.cfg.guidance = request.guidance;
  o.cfg.formula = manifest.cfg_formula == CfgFormula::kCosmos ? flow::CfgFormula::kCosmos
                                                              : flow::CfgFormula::kStandard;
  return o;
}

}  // namespace

DuoGenImageModel::DuoGenImageModel(const ModelManifest& manifest, const ImageModelOptions& options)
    : manifest_(manifest),
      options_(options),
      dit_(cosmos_dit::CosmosDiT::load(
          manifest.dit, {options.dtype, options.device, manifest.connector.value_or("")})),
      vae_(wan_vae::WanVAE::load(manifest.vae, [&] {
        wan_vae::VAEOptions o;
        o.dtype = options.dtype;
        o.device = options.device;
        return o;
      }())) {
  DUOGEN_CHECK(dit_.config().latent_channels() == vae_.config().z_dim, FormatError,
               "the DiT ({}) works on {} latent channels but the VAE ({}) makes {}",
               manifest.dit.string(), dit_.config().latent_channels(), manifest.vae.string(),
               vae_.config().z_dim);
}

void DuoGenImageModel::check_context_width(std::int64_t layers, std::int64_t hidden,
                                           const std::filesystem::path& mllm) const {
  const std::int64_t in = dit_.connector().in_channels();
  DUOGEN_CHECK(in == layers * hidden || in == (layers + 1) * hidden, FormatError,
               "the DiT's connector ({}) reads {} channels per token, but the MLLM ({}) gives {} "
               "layers x {} = {} (or {} with the embeddings): the components do not belong "
               "together",
               manifest_.dit.string(), in, mllm.string(), layers, hidden, layers * hidden,
               (layers + 1) * hidden);
}

at::Tensor DuoGenImageModel::condition_latent(const at::Tensor& rgb, double& encode_seconds) {
  for (const auto& [image, latent] : latent_cache_) {
    if (image.unsafeGetTensorImpl() == rgb.unsafeGetTensorImpl()) return latent;
  }
  const auto start = Clock::now();
  const auto [h, w] = condition_frame_size(rgb.size(0), rgb.size(1), manifest_.condition_max_area);
  const at::Tensor sized =
      h == rgb.size(0) && w == rgb.size(1) ? rgb : image::resize_bicubic(rgb, h, w);
  const at::Tensor latent = vae_.encode(wan_vae::pixels_from_image(sized));  // [1, z, 1, h/8, w/8]
  encode_seconds += seconds_since(start);
  latent_cache_.emplace_back(rgb, latent);
  return latent;
}

at::Tensor DuoGenImageModel::generate(const ImageRequest& request, const ProgressFn& progress,
                                      std::vector<std::pair<std::string, double>>& timings) {
  c10::InferenceMode guard;
  const std::int64_t factor = vae_.config().scale_factor_spatial * dit_.config().patch_size[1];
  DUOGEN_CHECK(request.width % factor == 0 && request.height % factor == 0, InvalidArgument,
               "image size {}x{} must be a multiple of {} (VAE x DiT patch)", request.width,
               request.height, factor);
  DUOGEN_CHECK(request.context.dim() == 3 && request.context.size(1) > 0, InvalidArgument,
               "image context must be [layers + 1, tokens, hidden], got {}",
               request.context.sizes());
  DUOGEN_CHECK(request.negative_length > 0 && request.negative_length <= request.context.size(1),
               InvalidArgument, "negative context length {} outside [1, {}]",
               request.negative_length, request.context.size(1));

  // Contexts: the connector and every block's K/V once per branch, reused by every step.
  auto start = Clock::now();
  const at::Tensor hidden = request.context.to(options_.device);
  const cosmos_dit::DitContext positive = dit_.prepare_context_from_hidden_states(hidden);
  const cosmos_dit::DitContext negative =
      request.zero_negative
          ? dit_.prepare_context(at::zeros({request.context.size(1),
                                            dit_.connector().in_channels()},
                                           hidden.options()))
          : dit_.prepare_context_from_hidden_states(
                hidden.slice(1, 0, request.negative_length));
  add_timing(timings, "connector", seconds_since(start));

  double encode_seconds = 0;
  std::vector<at::Tensor> conditions;
  for (const auto& image : request.condition_images) {
    conditions.push_back(condition_latent(image, encode_seconds));
  }
  add_timing(timings, "vae_encode", encode_seconds);

  const std::int64_t z = vae_.config().z_dim;
  const std::int64_t f = vae_.config().scale_factor_spatial;
  const std::vector<std::int64_t> shape = {1, z, 1, request.height / f, request.width / f};
  at::Tensor noise = manifest_.noise == "numpy"
                         ? flow::numpy_noise(shape, static_cast<std::int64_t>(request.seed))
                         : flow::torch_noise(shape, request.seed);
  noise = noise.to(options_.device);

  std::vector<bool> is_condition(conditions.size(), true);
  is_condition.push_back(false);
  flow::ConditionFrameOptions frame_options;
  if (manifest_.condition_timestep) {
    frame_options.mode = flow::ConditionFrameTimestep::kFixed;
    frame_options.fixed_value = *manifest_.condition_timestep;
  }
  const auto branch = [&](const cosmos_dit::DitContext& context) {
    return [&, ctx = &context](const at::Tensor& x, const flow::StepContext& step) {
      // Cosmos conditions the network on the truncated integer timestep times 0.001 (§10.2).
      const double t = static_cast<double>(step.timestep) * 0.001;
      const at::Tensor per_frame =
          flow::frame_timesteps(is_condition, t, frame_options).to(x.device());
      std::vector<cosmos_dit::PackedFrame> frames;
      for (std::size_t i = 0; i < conditions.size(); ++i) {
        frames.push_back({conditions[i], per_frame.narrow(0, i, 1), true});
      }
      frames.push_back({x, per_frame.narrow(0, conditions.size(), 1), false});
      return dit_.velocity_packed(frames, *ctx).view(x.sizes());
    };
  };
  start = Clock::now();
  const flow::SamplerOptions options = sampler_options(request, manifest_);
  const at::Tensor x0 = flow::sample_cfg(
      noise, branch(positive), branch(negative), options,
      [&](const flow::StepContext& step, const at::Tensor&) {
        if (progress) progress(step.index + 1, step.num_steps);
      });
  add_timing(timings, "dit_sampling", seconds_since(start));

  start = Clock::now();
  const at::Tensor image = wan_vae::image_from_pixels(vae_.decode(x0));
  add_timing(timings, "vae_decode", seconds_since(start));
  return image;
}

}  // namespace duogen::pipeline
