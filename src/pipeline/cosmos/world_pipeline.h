// The Cosmos-Predict2.5 pipeline, as diffusers 0.42.1 `Cosmos2_5_PredictBasePipeline.__call__`
// runs it on a published snapshot (model_index.json + text_encoder/ tokenizer/ transformer/ vae/
// scheduler/):
//   text -> image   (num_frames = 1)           text -> world   (no conditioning frames)
//   image -> world  (the first frame given)    video -> world  (the last 1 or 5 input frames)
//
//   auto pipe = cosmos::WorldPipeline::load(io::read_pipeline_snapshot(dir), {});
//   cosmos::WorldRequest request;
//   request.prompt = "A robot arm stacks red cubes";
//   request.num_frames = 93;
//   cosmos::WorldResult result = pipe.run(request);   // result.frames: uint8 [93, 704, 1280, 3]
//
// What it reproduces (the same seed gives diffusers' picture): the prompt embeddings of
// prompt_encoder.h for the prompt and, with guidance > 1, the negative prompt; the initial noise
// torch.randn(shape, generator=torch.Generator().manual_seed(seed)) on the CPU; the conditioning
// frames preprocessed as the pipeline's VideoProcessor does (an image: to [0, 1], nearest
// resize to height x width; video frames: Pillow bilinear resize), VAE-encoded (argmax) and
// normalised; the snapshot's scheduler; at every step the network fed the float32 sigma on the
// generated frames and conditional_frame_timestep on the condition frames, the condition frames'
// velocity replaced by (x_T - condition), CFG v + g (v - v_neg); the decode and
// `_match_num_frames`. Only the conditioning frames are VAE-encoded (the pipeline encodes the
// whole padded clip; the causal VAE makes its first latent frames depend on those frames only).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "io/pipeline_snapshot.h"
#include "kernels/ops/attention_dispatch.h"
#include "models/wan_vae/vae.h"

namespace duogen::pipeline::cosmos {

struct WorldRequest {
  std::string prompt;
  // nullopt: diffusers' default negative prompt (kDefaultNegativePrompt). Unused when
  // guidance <= 1 (no CFG, one network call per step).
  std::optional<std::string> negative_prompt;
  std::int64_t height = 704;  // multiples of 16
  std::int64_t width = 1280;
  std::int64_t num_frames = 93;  // 1: an image
  int steps = 36;                // num_inference_steps: network evaluations per branch
  double guidance = 7.0;
  std::uint64_t seed = 0;
  at::Tensor image;                       // image -> world: uint8 [H, W, 3], any size
  at::Tensor video;                       // video -> world: uint8 [T, H, W, 3], any size
  int num_latent_conditional_frames = 2;  // video -> world: 1 or 2 latent frames (1 or 5 frames)
  // The condition frames' network timestep; negative: every frame gets the step's sigma.
  double conditional_frame_timestep = 1e-4;
  std::int64_t max_sequence_length = 512;
};

struct WorldResult {
  at::Tensor input_ids;               // int64 [1, L]: the prompt's tokens after padding
  at::Tensor negative_input_ids;      // int64 [1, L]; undefined without CFG
  at::Tensor prompt_embeds;           // [1, L, E], the text encoder's dtype
  at::Tensor negative_prompt_embeds;  // undefined without CFG
  at::Tensor initial_latents;         // fp32 [1, C, T', h, w]: x_T
  at::Tensor condition_pixels;        // fp32 [1, 3, F, H, W] in [-1, 1]: the frames encoded
  at::Tensor condition_latents;       // fp32 [1, C, K, h, w]; undefined for text -> world
  at::Tensor latents;                 // fp32 [1, C, T', h, w]: the final (normalised) latents
  at::Tensor video;                   // fp32 [1, 3, num_frames, H, W] in [-1, 1]
  at::Tensor frames;                  // uint8 [num_frames, H, W, 3]
};

// Progress: stage names ("encode prompt", "encode condition", "denoise", "decode"), each
// denoising step, and each decoded VAE chunk.
struct WorldProgress {
  std::function<void(const std::string& stage)> stage;
  std::function<void(int step, int steps)> step;
  std::function<void(std::int64_t chunk, std::int64_t chunks)> decoded;
};

struct WorldPipelineOptions {
  c10::ScalarType dtype = c10::kFloat;  // text encoder, DiT and VAE
  c10::Device device = c10::kCPU;
  wan_vae::TilingOptions vae_tiling;
  // Both CFG branches as one batch-2 network call per step (equal to two calls within fp32
  // rounding, see latent_sampler.h).
  bool batch_cfg = true;
  // Load each model when its stage starts and drop it when the stage ends (text encoder -> DiT ->
  // VAE), so the device holds one at a time: diffusers' model_cpu_offload_seq. Off: all three
  // stay loaded between runs.
  bool sequential_offload = false;
  // The engine's attention dispatch for the text encoder and the DiT; null: the built-in order.
  std::shared_ptr<const ops::AttentionDispatch> attention;
};

class WorldPipeline {
 public:
  // Checks the snapshot's classes and configs and loads the models (all of them, or, with
  // sequential_offload, once each to validate and then dropped). Throws FormatError naming the
  // file and key for unsupported configurations, WeightError for bad weights.
  static WorldPipeline load(const io::PipelineSnapshot& snapshot,
                            const WorldPipelineOptions& options);
  WorldPipeline(WorldPipeline&&) noexcept;
  WorldPipeline& operator=(WorldPipeline&&) noexcept;
  ~WorldPipeline();

  // Throws InvalidArgument naming the field for a bad request (sizes not multiples of 16, a
  // video shorter than the conditioning needs, both image and video, ...).
  // Not thread-safe: with sequential_offload it loads and drops models.
  WorldResult run(const WorldRequest& request, const WorldProgress& progress = {});

  const io::PipelineSnapshot& snapshot() const;

 private:
  struct State;
  explicit WorldPipeline(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Checks a request against the pipeline's rules without running it (the CLI validates job files
// before loading anything). Throws InvalidArgument naming the field.
void check_request(const WorldRequest& request);

}  // namespace duogen::pipeline::cosmos
