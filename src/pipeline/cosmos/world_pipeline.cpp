#include "pipeline/cosmos/world_pipeline.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <optional>

#include "core/check.h"
#include "core/logging.h"
#include "image/resample.h"
#include "models/cosmos_dit/dit.h"
#include "pipeline/cosmos/prompt_encoder.h"
#include "sampling/flow/diffusers_scheduler.h"
#include "sampling/flow/guidance.h"
#include "sampling/flow/noise.h"
#include "sampling/flow/sampler.h"

namespace duogen::pipeline::cosmos {
namespace {

namespace flow = sampling::flow;

// diffusers' Cosmos2_5_PredictBasePipeline with the Wan VAE: 4x temporal, 8x spatial.
constexpr std::int64_t kTemporalFactor = 4;

// VideoProcessor.preprocess_video for a tensor input in [0, 1] (image -> world): torch's default
// nearest resize to height x width, then 2x - 1. uint8 [H, W, 3] -> fp32 [1, 3, 1, h, w].
at::Tensor preprocess_image(const at::Tensor& rgb, std::int64_t height, std::int64_t width) {
  at::Tensor x = rgb.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div(255);  // to_tensor
  if (x.size(2) != height || x.size(3) != width) {
    x = at::upsample_nearest2d(x, {height, width});
  }
  return (x * 2.0 - 1.0).unsqueeze(2);
}

// VideoProcessor.preprocess_video for PIL frames (video -> world): each frame resized by Pillow
// with BILINEAR to width x height, x / 255, 2x - 1. uint8 [T, H, W, 3] -> fp32 [1, 3, T, h, w].
at::Tensor preprocess_frames(const at::Tensor& frames, std::int64_t height, std::int64_t width) {
  std::vector<at::Tensor> resized;
  resized.reserve(static_cast<std::size_t>(frames.size(0)));
  for (std::int64_t t = 0; t < frames.size(0); ++t) {
    const at::Tensor frame = frames[t];
    resized.push_back(frame.size(0) == height && frame.size(1) == width
                          ? frame
                          : image::resize_bilinear(frame, height, width));
  }
  const at::Tensor x = at::stack(resized, 0).to(at::kFloat).div(255);  // [T, h, w, 3]
  return (x * 2.0 - 1.0).permute({3, 0, 1, 2}).unsqueeze(0);
}

void check_rgb(const at::Tensor& t, std::int64_t rank, const char* field) {
  DUOGEN_CHECK(
      t.scalar_type() == at::kByte && t.dim() == rank && t.size(rank - 1) == 3 && t.numel() > 0,
      InvalidArgument, "cosmos: '{}' must be uint8 [{}H, W, 3], got {} {}", field,
      rank == 4 ? "T, " : "", c10::toString(t.scalar_type()), t.sizes());
}

// diffusers' _match_num_frames: a decode of other length is repeated 4x along time, then padded
// with its last frame or cut to num_frames.
at::Tensor match_num_frames(at::Tensor video, std::int64_t num_frames) {
  if (video.size(2) == num_frames) return video;
  video = at::repeat_interleave(video, kTemporalFactor, 2);
  const std::int64_t have = video.size(2);
  if (have < num_frames) {
    video = at::cat({video, video.slice(2, have - 1).repeat({1, 1, num_frames - have, 1, 1})}, 2);
  }
  return video.slice(2, 0, num_frames);
}

}  // namespace

void check_request(const WorldRequest& r) {
  DUOGEN_CHECK(r.height > 0 && r.width > 0 && r.height % 16 == 0 && r.width % 16 == 0,
               InvalidArgument,
               "cosmos: 'height' and 'width' must be positive multiples of 16, "
               "got {}x{}",
               r.width, r.height);
  DUOGEN_CHECK(r.num_frames >= 1, InvalidArgument,
               "cosmos: 'num_frames' must be at least 1, got {}", r.num_frames);
  DUOGEN_CHECK(r.steps >= 1, InvalidArgument, "cosmos: 'steps' must be at least 1, got {}",
               r.steps);
  DUOGEN_CHECK(r.guidance >= 0.0 && std::isfinite(r.guidance), InvalidArgument,
               "cosmos: 'guidance' must be a non-negative number, got {}", r.guidance);
  DUOGEN_CHECK(r.max_sequence_length >= 1, InvalidArgument,
               "cosmos: 'max_sequence_length' must be positive, got {}", r.max_sequence_length);
  DUOGEN_CHECK(std::isfinite(r.conditional_frame_timestep), InvalidArgument,
               "cosmos: 'conditional_frame_timestep' must be finite");
  DUOGEN_CHECK(!(r.image.defined() && r.video.defined()), InvalidArgument,
               "cosmos: give an image or a video to condition on, not both");
  const std::int64_t latent_frames = (r.num_frames - 1) / kTemporalFactor + 1;
  if (r.image.defined()) check_rgb(r.image, 3, "image");
  if (r.video.defined()) {
    check_rgb(r.video, 4, "video");
    DUOGEN_CHECK(r.num_latent_conditional_frames == 1 || r.num_latent_conditional_frames == 2,
                 InvalidArgument, "cosmos: 'num_latent_conditional_frames' must be 1 or 2, got {}",
                 r.num_latent_conditional_frames);
    const std::int64_t needed = kTemporalFactor * (r.num_latent_conditional_frames - 1) + 1;
    DUOGEN_CHECK(r.video.size(0) >= needed, InvalidArgument,
                 "cosmos: the input video has {} frames; conditioning on {} latent frames needs "
                 "at least {}",
                 r.video.size(0), r.num_latent_conditional_frames, needed);
    DUOGEN_CHECK(r.num_latent_conditional_frames <= latent_frames, InvalidArgument,
                 "cosmos: {} conditioning latent frames need 'num_frames' >= {}, got {}",
                 r.num_latent_conditional_frames, needed, r.num_frames);
  }
}

struct WorldPipeline::State {
  io::PipelineSnapshot snapshot;
  WorldPipelineOptions options;
  flow::DiffusersScheduler scheduler;
  std::optional<PromptEncoder> text;
  std::optional<cosmos_dit::CosmosDiT> dit;
  std::optional<wan_vae::WanVAE> vae;

  PromptEncoder& text_encoder() {
    if (!text) {
      text.emplace(PromptEncoder::load(snapshot.component("text_encoder").dir,
                                       snapshot.component("tokenizer").dir,
                                       {options.dtype, options.device, {}, true,
                                        options.attention}));
    }
    return *text;
  }
  cosmos_dit::CosmosDiT& transformer() {
    if (!dit) {
      cosmos_dit::DitOptions o;
      o.dtype = options.dtype;
      o.device = options.device;
      o.attention = options.attention;
      dit.emplace(cosmos_dit::CosmosDiT::load(snapshot.component("transformer").dir, o));
    }
    return *dit;
  }
  wan_vae::WanVAE& autoencoder() {
    if (!vae) {
      wan_vae::VAEOptions o;
      o.dtype = options.dtype;
      o.device = options.device;
      o.tiling = options.vae_tiling;
      o.attention = options.attention;
      vae.emplace(wan_vae::WanVAE::load(snapshot.component("vae").dir, o));
    }
    return *vae;
  }
  // With sequential offload a stage's model leaves when the stage ends.
  template <class T>
  void done_with(std::optional<T>& model) {
    if (options.sequential_offload) model.reset();
  }
};

WorldPipeline::WorldPipeline(std::unique_ptr<State> state) : state_(std::move(state)) {}
WorldPipeline::WorldPipeline(WorldPipeline&&) noexcept = default;
WorldPipeline& WorldPipeline::operator=(WorldPipeline&&) noexcept = default;
WorldPipeline::~WorldPipeline() = default;

const io::PipelineSnapshot& WorldPipeline::snapshot() const { return state_->snapshot; }

WorldPipeline WorldPipeline::load(const io::PipelineSnapshot& snapshot,
                                  const WorldPipelineOptions& options) {
  DUOGEN_CHECK(snapshot.class_name == "Cosmos2_5_PredictBasePipeline", FormatError,
               "{}: '_class_name' is \"{}\"; duogen runs Cosmos2_5_PredictBasePipeline snapshots "
               "(DuoGen models have a duogen.json instead)",
               snapshot.index_file.string(), snapshot.class_name);
  snapshot.component("text_encoder", "Qwen2_5_VLForConditionalGeneration");
  snapshot.component("tokenizer");
  snapshot.component("transformer", "CosmosTransformer3DModel");
  snapshot.component("vae", "AutoencoderKLWan");
  snapshot.component("scheduler", "UniPCMultistepScheduler");
  // Anything else the index lists (a saved safety_checker, say) is not part of what duogen runs:
  // say so rather than skip it silently. [null, null] entries are not components.
  for (const auto& [name, c] : snapshot.components) {
    if (name == "text_encoder" || name == "tokenizer" || name == "transformer" || name == "vae" ||
        name == "scheduler") {
      continue;
    }
    spdlog::warn("{}: component '{}' ({} {}) is not run by duogen", snapshot.index_file.string(),
                 name, c.library, c.class_name);
  }
  auto state = std::make_unique<State>();
  state->snapshot = snapshot;
  state->options = options;
  state->scheduler =
      flow::read_diffusers_scheduler(snapshot.component("scheduler").dir / "scheduler_config.json");
  // Load everything once so a bad checkpoint fails here, before the first job.
  const std::int64_t width = state->text_encoder().embedding_width();
  const std::int64_t connector_in = state->transformer().connector().in_channels();
  DUOGEN_CHECK(width == connector_in, FormatError,
               "{}: the text encoder gives {} channels per token ({} layers x {}), the "
               "transformer's connector takes {} (crossattn_proj_in_channels)",
               snapshot.root.string(), width, state->text->model().config().text.num_hidden_layers,
               state->text->model().config().text.hidden_size, connector_in);
  state->autoencoder();
  DUOGEN_CHECK(state->dit->config().latent_channels() == state->vae->config().z_dim &&
                   state->dit->config().has_condition_mask_channel(),
               FormatError,
               "{}: the transformer ({} in, {} out channels) does not fit the VAE's {} latent "
               "channels plus the condition-mask channel",
               snapshot.root.string(), state->dit->config().in_channels,
               state->dit->config().out_channels, state->vae->config().z_dim);
  state->done_with(state->text);
  state->done_with(state->dit);
  state->done_with(state->vae);
  return WorldPipeline(std::move(state));
}

WorldResult WorldPipeline::run(const WorldRequest& r, const WorldProgress& progress) {
  check_request(r);
  c10::InferenceMode guard;
  State& s = *state_;
  auto stage = [&](const char* name) {
    if (progress.stage) progress.stage(name);
  };
  const bool cfg = r.guidance > 1.0;  // diffusers' do_classifier_free_guidance
  WorldResult out;
  // First, so a step count the scheduler refuses fails before any model runs.
  const flow::FlowSchedule schedule = flow::diffusers_schedule(s.scheduler, r.steps);

  stage("encode prompt");
  {
    PromptEncoder& text = s.text_encoder();
    out.input_ids = text.token_ids(r.prompt, r.max_sequence_length).unsqueeze(0);
    out.prompt_embeds = text.encode(r.prompt, r.max_sequence_length);
    if (cfg) {
      const std::string negative = r.negative_prompt.value_or(kDefaultNegativePrompt);
      out.negative_input_ids = text.token_ids(negative, r.max_sequence_length).unsqueeze(0);
      out.negative_prompt_embeds = text.encode(negative, r.max_sequence_length);
    }
    s.done_with(s.text);
  }

  const c10::Device device = s.options.device;
  const std::int64_t channels = 16;
  const std::int64_t latent_frames = (r.num_frames - 1) / kTemporalFactor + 1;
  const std::int64_t h = r.height / 8, w = r.width / 8;

  // Conditioning frames: an image is frame 0; a video gives its last 1 or 5 frames.
  std::int64_t cond_frames = 0;
  if (r.image.defined() || r.video.defined()) {
    stage("encode condition");
    at::Tensor pixels;
    if (r.image.defined()) {
      pixels = preprocess_image(r.image, r.height, r.width);
      cond_frames = 1;
    } else {
      const std::int64_t extract = kTemporalFactor * (r.num_latent_conditional_frames - 1) + 1;
      pixels = preprocess_frames(r.video.slice(0, r.video.size(0) - extract), r.height, r.width);
      cond_frames = r.num_latent_conditional_frames;
    }
    wan_vae::WanVAE& vae = s.autoencoder();
    out.condition_latents = vae.encode(pixels.to(device).to(s.options.dtype)).to(at::kFloat);
    out.condition_pixels = pixels;
    s.done_with(s.vae);  // loaded again for the decode
  }

  // The initial noise, from a CPU generator as diffusers' randn_tensor does for any device.
  out.initial_latents =
      flow::torch_noise({1, channels, latent_frames, h, w}, r.seed, at::kFloat).to(device);
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor cond_latent = at::zeros_like(out.initial_latents);
  at::Tensor cond_indicator = at::zeros({1, 1, latent_frames, 1, 1}, f32);
  if (cond_frames > 0) {
    cond_latent.slice(2, 0, cond_frames).copy_(out.condition_latents);
    cond_indicator.slice(2, 0, cond_frames).fill_(1.0);
  }
  const at::Tensor cond_mask = cond_indicator.expand({1, 1, latent_frames, h, w});
  const at::Tensor gt_velocity = (out.initial_latents - cond_latent) * cond_mask;

  stage("denoise");
  {  // the DiT and its contexts live for this stage only
    cosmos_dit::CosmosDiT& dit = s.transformer();
    const c10::ScalarType net_dtype = dit.options().dtype;
    const cosmos_dit::DitContext positive = dit.prepare_context(out.prompt_embeds.to(device));
    std::optional<cosmos_dit::DitContext> negative, stacked;
    if (cfg) {
      negative = dit.prepare_context(out.negative_prompt_embeds.to(device));
      if (s.options.batch_cfg) stacked = cosmos_dit::stack_contexts({&positive, &*negative});
    }
    const at::Tensor net_mask = cond_mask.to(net_dtype);
    const at::Tensor padding_mask = at::zeros({1, 1, r.height, r.width}, f32.dtype(net_dtype));

    flow::SamplerOptions sampler;
    sampler.solver = flow::SolverKind::kUniPC;
    sampler.unipc = s.scheduler.unipc;
    flow::CfgOptions guidance{r.guidance, flow::CfgFormula::kCosmos};

    auto velocity = [&](const at::Tensor& x, const flow::StepContext& step) {
      const at::Tensor sigma = at::full({1, 1, 1, 1, 1}, static_cast<float>(step.sigma), f32);
      const at::Tensor timestep =
          r.conditional_frame_timestep >= 0
              ? cond_indicator * r.conditional_frame_timestep + (1 - cond_indicator) * sigma
              : sigma.expand({1, 1, latent_frames, 1, 1});
      const at::Tensor in = (cond_mask * cond_latent + (1 - cond_mask) * x).to(net_dtype);
      // The condition frames move with their true velocity: gt + v * (1 - mask).
      auto replace = [&](const at::Tensor& v) { return gt_velocity + v * (1 - cond_mask); };
      if (!cfg) return replace(dit.velocity(in, timestep, positive, net_mask, padding_mask));
      at::Tensor v_pos, v_neg;
      if (stacked) {
        const at::Tensor both =
            dit.velocity(at::cat({in, in}), timestep.expand({2, -1, -1, -1, -1}), *stacked,
                         net_mask, padding_mask);
        v_pos = both.slice(0, 0, 1);
        v_neg = both.slice(0, 1, 2);
      } else {
        v_pos = dit.velocity(in, timestep, positive, net_mask, padding_mask);
        v_neg = dit.velocity(in, timestep, *negative, net_mask, padding_mask);
      }
      return flow::cfg_combine(replace(v_pos), replace(v_neg), guidance);
    };
    out.latents = flow::sample(out.initial_latents, velocity, schedule, sampler,
                               [&](const flow::StepContext& step, const at::Tensor&) {
                                 if (progress.step) progress.step(step.index + 1, step.num_steps);
                               });
  }
  s.done_with(s.dit);

  stage("decode");
  {
    wan_vae::WanVAE& vae = s.autoencoder();
    at::Tensor video = vae.decode(out.latents, progress.decoded).to(at::kCPU, at::kFloat);
    out.video = match_num_frames(video, r.num_frames);
    s.done_with(s.vae);
  }
  // postprocess_video: (x / 2 + 0.5) clamped to [0, 1]; uint8 as numpy_to_pil rounds it.
  const at::Tensor unit = (out.video[0] / 2 + 0.5).clamp(0, 1).permute({1, 2, 3, 0});
  out.frames = (unit * 255).round().to(at::kByte).contiguous();
  return out;
}

}  // namespace duogen::pipeline::cosmos
