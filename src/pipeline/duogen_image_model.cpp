#include "pipeline/duogen_image_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/check.h"
#include "image/resample.h"
#include "pipeline/conditioning.h"
#include "pipeline/latent_sampler.h"
#include "pipeline/timing.h"
#include "sampling/flow/noise.h"

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

  // Contexts: the connector and every block's K/V once per branch, reused by every step.
  auto start = Clock::now();
  const CfgContexts contexts =
      prepare_cfg_contexts(dit_, request.context.to(options_.device), request.negative_length,
                           request.zero_negative);
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

  LatentSamplerOptions options;
  options.sampler = sampler_options(request, manifest_);
  if (manifest_.condition_timestep) {
    options.frames.mode = flow::ConditionFrameTimestep::kFixed;
    options.frames.fixed_value = *manifest_.condition_timestep;
  }
  options.network_time = manifest_.network_time;
  start = Clock::now();
  const at::Tensor x0 = sample_latent(
      dit_, contexts, conditions, noise, options,
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
