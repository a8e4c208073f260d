#include "pipeline/duogen_image_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/check.h"
#include "image/resample.h"
#include "pipeline/conditioning.h"
#include "pipeline/latent_sampler.h"
#include "pipeline/timing.h"
#include "runtime/memory_plan.h"
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

std::uint64_t weight_bytes(const ModelManifest& manifest, const ImageModelOptions& options,
                           const std::string& component) {
  if (!options.residency) return 0;
  const runtime::ModelDescription d = runtime::describe_model(manifest);
  return (component == "dit" ? d.dit_weights : d.vae_weights).bytes(options.dtype);
}

}  // namespace

DuoGenImageModel::DuoGenImageModel(const ModelManifest& manifest, const ImageModelOptions& options)
    : manifest_(manifest),
      options_(options),
      dit_(
          "dit",
          [manifest, options] {
            return cosmos_dit::CosmosDiT::load(manifest.dit,
                                               {options.dtype, options.device,
                                                manifest.connector.value_or(""), options.attention});
          },
          options.residency, weight_bytes(manifest, options, "dit"),
          [this](const cosmos_dit::CosmosDiT& dit) {
            dit_config_ = dit.config();
            connector_in_ = dit.connector().in_channels();
          }),
      vae_(
          "vae",
          [manifest, options] {
            wan_vae::VAEOptions o;
            o.dtype = options.dtype;
            o.device = options.device;
            o.attention = options.attention;
            return wan_vae::WanVAE::load(manifest.vae, o);
          },
          options.residency, weight_bytes(manifest, options, "vae"),
          [this](const wan_vae::WanVAE& vae) { vae_config_ = vae.config(); }) {
  DUOGEN_CHECK(dit_config_->latent_channels() == vae_config_->z_dim, FormatError,
               "the DiT ({}) works on {} latent channels but the VAE ({}) makes {}",
               manifest.dit.string(), dit_config_->latent_channels(), manifest.vae.string(),
               vae_config_->z_dim);
}

void DuoGenImageModel::check_context_width(std::int64_t layers, std::int64_t hidden,
                                           const std::filesystem::path& mllm) const {
  const std::int64_t in = connector_in_;
  DUOGEN_CHECK(in == layers * hidden || in == (layers + 1) * hidden, FormatError,
               "the DiT's connector ({}) reads {} channels per token, but the MLLM ({}) gives {} "
               "layers x {} = {} (or {} with the embeddings): the components do not belong "
               "together",
               manifest_.dit.string(), in, mllm.string(), layers, hidden, layers * hidden,
               (layers + 1) * hidden);
}

std::int64_t DuoGenImageModel::retained_bytes() const {
  std::int64_t total = 0;
  for (const auto& [image, latent] : latent_cache_) {
    total += static_cast<std::int64_t>(image.nbytes() + latent.nbytes());
  }
  return total;
}

at::Tensor DuoGenImageModel::condition_latent(const at::Tensor& rgb, double& encode_seconds) {
  // An entry whose image nobody else holds belongs to a finished conversation: drop it, so a
  // long-running engine (a server) does not keep every image it ever conditioned on.
  std::erase_if(latent_cache_, [](const auto& entry) { return entry.first.use_count() == 1; });
  for (const auto& [image, latent] : latent_cache_) {
    if (image.unsafeGetTensorImpl() == rgb.unsafeGetTensorImpl()) return latent;
  }
  const auto start = Clock::now();
  const auto [h, w] = condition_frame_size(rgb.size(0), rgb.size(1), manifest_.condition_max_area);
  const at::Tensor sized =
      h == rgb.size(0) && w == rgb.size(1) ? rgb : image::resize_bicubic(rgb, h, w);
  const at::Tensor latent =
      vae_.use()->encode(wan_vae::pixels_from_image(sized));  // [1, z, 1, h/8, w/8]
  encode_seconds += seconds_since(start);
  latent_cache_.emplace_back(rgb, latent);
  return latent;
}

at::Tensor DuoGenImageModel::generate(const ImageRequest& request, const ProgressFn& progress,
                                      std::vector<std::pair<std::string, double>>& timings) {
  c10::InferenceMode guard;
  const std::int64_t factor = vae_config_->scale_factor_spatial * dit_config_->patch_size[1];
  DUOGEN_CHECK(request.width % factor == 0 && request.height % factor == 0, InvalidArgument,
               "image size {}x{} must be a multiple of {} (VAE x DiT patch)", request.width,
               request.height, factor);

  // The condition latents first: in offload mode the VAE then leaves room for the DiT.
  double encode_seconds = 0;
  std::vector<at::Tensor> conditions;
  for (const auto& image : request.condition_images) {
    conditions.push_back(condition_latent(image, encode_seconds));
  }
  add_timing(timings, "vae_encode", encode_seconds);

  // Contexts: the connector and every block's K/V once per branch, reused by every step.
  at::Tensor x0;
  {
    auto dit = dit_.use();
    auto start = Clock::now();
    const CfgContexts contexts =
        prepare_cfg_contexts(*dit, request.context.to(options_.device), request.negative_length,
                             request.zero_negative);
    add_timing(timings, "connector", seconds_since(start));
    x0 = sample_dit(*dit, contexts, conditions, request, progress, timings);
  }

  const auto start = Clock::now();
  const at::Tensor image = wan_vae::image_from_pixels(vae_.use()->decode(x0));
  add_timing(timings, "vae_decode", seconds_since(start));
  return image;
}

at::Tensor DuoGenImageModel::sample_dit(const cosmos_dit::CosmosDiT& dit,
                                        const CfgContexts& contexts,
                                        const std::vector<at::Tensor>& conditions,
                                        const ImageRequest& request, const ProgressFn& progress,
                                        std::vector<std::pair<std::string, double>>& timings) {
  const std::int64_t z = vae_config_->z_dim;
  const std::int64_t f = vae_config_->scale_factor_spatial;
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
  const auto start = Clock::now();
  const at::Tensor x0 = sample_latent(
      dit, contexts, conditions, noise, options,
      [&](const flow::StepContext& step, const at::Tensor&) {
        if (progress) progress(step.index + 1, step.num_steps);
      });
  add_timing(timings, "dit_sampling", seconds_since(start));
  return x0;
}

}  // namespace duogen::pipeline
