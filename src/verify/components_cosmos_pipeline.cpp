// `cosmos_pipeline`: a whole Cosmos-Predict2.5 run (pipeline/cosmos/world_pipeline.h) on a
// diffusers snapshot directory, against diffusers' Cosmos2_5_PredictBasePipeline.__call__
// (tools/reference/dump_cosmos_pipeline.py).
//   inputs   optional `image` uint8 [H, W, 3] (image -> world) or `video` uint8 [T, H, W, 3]
//   metadata `prompt`, `height`, `width`, `num_frames`, `num_inference_steps`, `guidance_scale`,
//            `seed`, `max_sequence_length`, `conditional_frame_timestep`,
//            `num_latent_conditional_frames`; optional `negative_prompt` (absent: the
//            pipeline's default)
//   outputs  `input_ids`, `negative_input_ids`, `prompt_embeds`, `negative_prompt_embeds`,
//            `initial_latents`, `condition_video` and `condition_latents` (image/video),
//            `latents`, `video`, `frames`
//            (fp32 [T, H, W, 3] in [0, 1], the pipeline's "np" output)
#include <ATen/ATen.h>

#include "core/check.h"
#include "io/pipeline_snapshot.h"
#include "pipeline/cosmos/world_pipeline.h"
#include "verify/components.h"

namespace duogen::verify {
namespace {

const std::string kName = "cosmos_pipeline";

template <class T>
T number(const ComponentContext& ctx, const std::string& key) {
  const std::string& text = require_metadata(ctx, key, kName);
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return static_cast<T>(value);
  } catch (const std::exception&) {
  }
  DUOGEN_FAIL(FormatError, "{}: __metadata__ '{}' is not a number: '{}'", kName, key, text);
}

// The clip diffusers hands to vae.encode: the encoded frames, then (image -> world) black frames
// at -1, or (video -> world) the last frame repeated, up to num_frames. Only the encoded frames
// reach the latents (the VAE is causal); the rest is rebuilt here to compare the whole input.
at::Tensor padded_condition_video(const at::Tensor& pixels,
                                  const pipeline::cosmos::WorldRequest& r) {
  const std::int64_t missing = r.num_frames - pixels.size(2);
  if (missing <= 0) return pixels;
  const at::Tensor pad = r.image.defined()
                             ? at::full({1, 3, missing, pixels.size(3), pixels.size(4)}, -1.0)
                             : pixels.slice(2, pixels.size(2) - 1).repeat({1, 1, missing, 1, 1});
  return at::cat({pixels, pad}, 2);
}

TensorMap run(const ComponentContext& ctx, const TensorMap& inputs) {
  pipeline::cosmos::WorldRequest r;
  r.prompt = require_metadata(ctx, "prompt", kName);
  if (ctx.metadata.count("negative_prompt")) r.negative_prompt = ctx.metadata.at("negative_prompt");
  r.height = number<std::int64_t>(ctx, "height");
  r.width = number<std::int64_t>(ctx, "width");
  r.num_frames = number<std::int64_t>(ctx, "num_frames");
  r.steps = number<int>(ctx, "num_inference_steps");
  r.guidance = number<double>(ctx, "guidance_scale");
  r.seed = number<std::uint64_t>(ctx, "seed");
  r.max_sequence_length = number<std::int64_t>(ctx, "max_sequence_length");
  r.conditional_frame_timestep = number<double>(ctx, "conditional_frame_timestep");
  r.num_latent_conditional_frames = number<int>(ctx, "num_latent_conditional_frames");
  if (inputs.count("image")) r.image = inputs.at("image");
  if (inputs.count("video")) r.video = inputs.at("video");

  pipeline::cosmos::WorldPipelineOptions options;
  options.dtype = ctx.dtype;
  options.device = ctx.device;
  auto pipe = pipeline::cosmos::WorldPipeline::load(io::read_pipeline_snapshot(ctx.model), options);
  const pipeline::cosmos::WorldResult out = pipe.run(r);
  TensorMap result = {{"input_ids", out.input_ids},
                      {"prompt_embeds", out.prompt_embeds.cpu()},
                      {"initial_latents", out.initial_latents.cpu()},
                      {"latents", out.latents.cpu()},
                      {"video", out.video},
                      {"frames", (out.video[0] / 2 + 0.5).clamp(0, 1).permute({1, 2, 3, 0})}};
  if (out.negative_prompt_embeds.defined()) {
    result.emplace("negative_input_ids", out.negative_input_ids);
    result.emplace("negative_prompt_embeds", out.negative_prompt_embeds.cpu());
  }
  if (out.condition_latents.defined()) {
    result.emplace("condition_latents", out.condition_latents.cpu());
    result.emplace("condition_video", padded_condition_video(out.condition_pixels, r));
  }
  return result;
}

}  // namespace

void register_cosmos_pipeline_components(std::map<std::string, Component>& registry) {
  registry[kName] = {"a whole Cosmos-Predict2.5 pipeline run on a diffusers snapshot", run};
}

}  // namespace duogen::verify
