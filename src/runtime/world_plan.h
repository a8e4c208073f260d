// The memory plan of a Cosmos-Predict2.5 world pipeline run (pipeline/cosmos/world_pipeline.h)
// on a diffusers snapshot, before anything is loaded: weights per component from the
// safetensors headers (or from the configs alone), each stage's working set, what stays alive
// from one stage to the next, and the totals with everything resident and with sequential
// offload, against a device budget. Estimates of tensor bytes, like memory_plan.h; allocator
// slack, the CUDA context and library workspaces are not counted (--reserve holds room for them).
//
// The run is three stages, one after another (WorldPipeline::run):
//   text_encoder  Qwen2.5-VL's language model over the prompt (and, with CFG, the negative
//                 prompt), each padded to max_sequence_length tokens, one pass at a time;
//                 the prompt embeddings [1, L, layers * hidden] are kept to the end of the run.
//   transformer   the DiT over the latent video [1, 16, T' = (frames - 1) / 4 + 1, H/8, W/8]
//                 (T' * H/16 * W/16 tokens, patch 1x2x2), both CFG branches batched; the
//                 prepared contexts (connector output + every block's context k/v) of each
//                 branch and the stacked pair live for this stage.
//   vae           the Wan VAE decode, one latent frame at a time with the causal feature cache
//                 (or per 256-px tile with tiling), the decoded frames collected on the device.
// Then the video goes to the host as fp32 [1, 3, frames, H, W] and uint8 frames.
//
//   all resident:       every model's weights + the largest (working set + held) of a stage;
//   sequential offload: one model at a time (WorldPipelineOptions::sequential_offload): the
//                       largest (weights + working set + held) of a stage.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/cosmos_dit/config.h"
#include "models/qwen2_5_vl/config.h"
#include "models/wan_vae/config.h"
#include "runtime/activations.h"
#include "runtime/weight_census.h"

namespace duogen::io {
struct PipelineSnapshot;
}

namespace duogen::runtime {

// What the planner needs to know about a snapshot: its configs and weight censuses.
struct WorldDescription {
  std::string root;  // the snapshot directory (or "configs" for describe_world_configs)
  std::string pipeline_class;
  qwen2_5_vl::Config text_encoder;
  cosmos_dit::Config transformer;
  wan_vae::Config vae;
  // Parts "text" (the language model), "head" (an untied lm_head) and "vision" (`visual.*`);
  // the text conditioning loads neither head nor vision: they are counted only to be reported
  // as left out.
  WeightCensus text_encoder_weights;
  WeightCensus transformer_weights;  // parts "dit" and "connector" (crossattn_proj)
  WeightCensus vae_weights;          // part "vae": encoder and decoder, both loaded
};

// Reads the configs and the safetensors headers of the snapshot's text_encoder/, transformer/
// and vae/ (sharded diffusers weights too). Checks the component classes as WorldPipeline::load
// does; throws FormatError naming model_index.json for a missing or foreign component, and the
// config/checkpoint readers' errors naming the file at fault. A component directory without
// weights is counted from its config.
WorldDescription describe_snapshot(const io::PipelineSnapshot& snapshot);
// A description from configs alone (weights counted from the shapes the loaders request).
WorldDescription describe_world_configs(const qwen2_5_vl::Config& text_encoder,
                                        const cosmos_dit::Config& transformer,
                                        const wan_vae::Config& vae);

struct WorldPlanOptions {
  std::int64_t width = 1280;  // multiples of 16
  std::int64_t height = 704;
  std::int64_t frames = 93;  // 1: an image
  std::int64_t max_sequence_length = 512;
  bool cfg = true;  // guidance > 1: the negative prompt too, both branches in one DiT call
  c10::ScalarType dtype = c10::kBFloat16;
  bool cpu = false;  // the CPU reference attention's S x S scores count; host = device
  bool vae_tiling = false;
  std::int64_t tile = 256;         // tile_sample_min_height/width (wan_vae::TilingOptions)
  std::int64_t tile_stride = 192;  // tile_sample_stride_height/width
  std::uint64_t reserve = 0;       // added to both totals
};

using ByteParts = std::vector<std::pair<std::string, std::uint64_t>>;

struct WorldStage {
  std::string name;  // text_encoder, transformer, vae
  std::string source;
  std::string note;             // what is left out (the text encoder's vision tower)
  std::int64_t parameters = 0;  // of what is loaded
  std::uint64_t weights = 0;
  ByteParts weight_parts;
  std::uint64_t working = 0;  // the stage's own tensors at its widest point; freed when it ends
  ByteParts working_parts;
  std::uint64_t held = 0;  // tensors of earlier stages still alive during this one
  ByteParts held_parts;

  std::uint64_t offload_peak() const { return weights + working + held; }
};

struct WorldPlan {
  WorldPlanOptions options;
  std::int64_t latent_frames = 0;   // T'
  std::int64_t decoded_frames = 0;  // 1 + 4 (T' - 1): what the VAE returns before the match
  std::int64_t latent_height = 0;
  std::int64_t latent_width = 0;
  std::int64_t dit_tokens = 0;  // T' * (H/16) * (W/16)
  bool vae_tiled = false;       // tiling asked for and the frame larger than one tile
  std::int64_t branches = 2;
  std::vector<WorldStage> stages;
  // The host side: the video fp32 [1, 3, frames, H, W] and the uint8 frames [frames, H, W, 3]
  // WorldResult keeps, and the peak while converting one to the other (with --device cpu these
  // are in the vae stage's working set too: host and device are one memory).
  std::uint64_t host_video = 0;
  std::uint64_t host_frames = 0;
  std::uint64_t host_peak = 0;

  std::uint64_t weights = 0;       // sum over stages
  std::uint64_t all_resident = 0;  // weights + max(working + held) + reserve
  std::string all_resident_stage;
  std::uint64_t offload_peak = 0;  // max(weights + working + held) + reserve
  std::string offload_peak_stage;

  const WorldStage& stage(const std::string& name) const;  // InvalidArgument if absent
};

// Throws InvalidArgument naming the option for sizes that are not positive multiples of 16, no
// frames, no tokens, or a video longer or larger than the DiT's RoPE tables cover.
WorldPlan plan_world(const WorldDescription& model, const WorldPlanOptions& options);

// How a run can fit, in the order the verdict prefers them (sequential offload keeps the output
// bit for bit; VAE tiling blends tile seams).
enum class WorldFit {
  kResident,
  kSequentialOffload,
  kResidentTiled,
  kSequentialOffloadTiled,
  kNone
};
const char* to_string(WorldFit fit);
// The `duogen video` flags of a mode ("" for resident).
const char* world_flags(WorldFit fit);

struct WorldMode {
  WorldFit mode = WorldFit::kResident;
  std::uint64_t needed = 0;
  bool fits = false;
};

struct WorldVerdict {
  std::uint64_t budget = 0;
  WorldFit fit = WorldFit::kNone;  // the first mode that fits
  std::uint64_t needed = 0;        // that mode's total, or the smallest when none fits
  std::uint64_t headroom = 0;
  std::uint64_t shortfall = 0;
  std::vector<WorldMode> modes;  // all four, the plan's options otherwise
};

WorldVerdict judge_world_budget(const WorldDescription& model,
                                const WorldPlan& plan,
                                std::uint64_t budget);

nlohmann::json world_plan_to_json(const WorldPlan& plan,
                                  const std::optional<WorldVerdict>& verdict);
std::string world_plan_to_text(const WorldPlan& plan, const std::optional<WorldVerdict>& verdict);

}  // namespace duogen::runtime
