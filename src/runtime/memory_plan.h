// The memory plan of a DuoGen run, computed before anything is loaded: weights per component
// (from the safetensors headers, or from the configs alone when no weights are on disk), the
// persistent caches (MLLM KV cache, the all-layer hidden states DuoGen keeps for the DiT context,
// the DiT's per-image context K/V), and activation peak estimates (activations.h states each
// formula). Everything here is an estimate of tensor bytes; allocator slack, CUDA context and
// library workspaces are not counted.
//
// Caches come in two lifetimes: the MLLM's KV cache and hidden states live for the whole
// conversation ("run caches"); the DiT's context K/V lives while one image is generated, so it
// counts with the DiT's working set. A component's working set = its activation peak + its
// per-image cache. Two modes are totalled (components run one after another):
//   all resident: every component's weights + the run caches + the largest working set;
//   offload:      idle components wait in pinned host memory and are moved in when used
//                 (runtime/residency.h): the device peak is the largest (weights + working set)
//                 of one component + the run caches; the pinned host total is the sum of the
//                 weights.
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

namespace duogen::pipeline {
struct ModelManifest;
}

namespace duogen::runtime {

struct PlanOptions {
  ImageSize target{768, 768};
  // Prior images in the conversation: each enters the MLLM (ViT at mllm_max_side), is
  // VAE-encoded, and is one DiT condition frame.
  std::vector<ImageSize> condition_frames;
  // KV cache capacity in tokens (preallocated); also the prefill chunk and the DiT context
  // length assumed (the worst case: the whole context in one chunk / before <BOV>).
  std::int64_t max_context = 4096;
  c10::ScalarType dtype = c10::kBFloat16;
  // The CPU reference attention materialises S x S scores; the GPU kernels do not.
  bool cpu = false;
  // Both CFG branches in one batched DiT call.
  std::int64_t cfg_branches = 2;
  // Bytes held back for what the plan does not estimate (CUDA context, allocator fragmentation,
  // cuBLAS/cuDNN workspaces); added to both totals.
  std::uint64_t reserve = 0;
};

// What the planner needs to know about a model: its configs and weight censuses.
struct ModelDescription {
  qwen2_5_vl::Config mllm;
  cosmos_dit::Config dit;
  wan_vae::Config vae;
  WeightCensus mllm_weights;
  WeightCensus dit_weights;  // with the connector
  WeightCensus vae_weights;
  std::string tokenizer_source;
  std::int64_t mllm_max_side = 480;
};

// Reads the configs and the safetensors headers of the manifest's components (no weights).
// A component path holding only a config.json (or, for the DiT and VAE, nothing: the released
// defaults) is counted from its config. Throws the config/checkpoint readers' errors naming the
// file at fault.
ModelDescription describe_model(const pipeline::ModelManifest& manifest);
// A description from configs alone (weights counted from the shapes the loaders request).
ModelDescription describe_configs(const qwen2_5_vl::Config& mllm,
                                  const cosmos_dit::Config& dit,
                                  const wan_vae::Config& vae);

struct ComponentPlan {
  std::string name;  // mllm, dit, vae, tokenizer
  std::string source;
  std::int64_t parameters = 0;
  std::uint64_t weights = 0;
  std::uint64_t cache = 0;  // persistent: for the run, or per image (cache_per_image)
  bool cache_per_image = false;
  std::uint64_t activations = 0;  // peak temporaries of its largest pass
  // Breakdowns, in report order: weight parts, cache parts, activation passes.
  std::vector<std::pair<std::string, std::uint64_t>> weight_parts;
  std::vector<std::pair<std::string, std::uint64_t>> cache_parts;
  std::vector<std::pair<std::string, std::uint64_t>> activation_parts;
};

struct MemoryPlan {
  PlanOptions options;
  std::vector<ComponentPlan> components;
  std::uint64_t weights = 0;          // sum over components
  std::uint64_t run_caches = 0;       // caches that live for the whole run
  std::uint64_t largest_working = 0;  // max over components of activations + per-image cache
  std::string largest_working_component;
  std::uint64_t all_resident = 0;  // weights + run_caches + largest_working + reserve
  // max(weights_c + activations_c + per-image cache_c) + run_caches + reserve
  std::uint64_t offload_device_peak = 0;
  std::string offload_peak_component;  // the component that sets it
  std::uint64_t pinned_host = 0;       // weights held in pinned host memory when offloading

  const ComponentPlan& component(const std::string& name) const;  // InvalidArgument if absent
};

MemoryPlan plan_memory(const ModelDescription& model, const PlanOptions& options);

enum class Fit { kResident, kOffload, kNone };
const char* to_string(Fit fit);

struct BudgetVerdict {
  std::uint64_t budget = 0;
  Fit fit = Fit::kNone;
  std::uint64_t needed = 0;     // all_resident, or the offload peak when only offload fits/fails
  std::uint64_t shortfall = 0;  // needed - budget when nothing fits
  std::uint64_t headroom = 0;   // budget - needed when something fits
  // Most condition frames (of the size of the first given frame, else the target's) that still
  // fit, up to the DiT's temporal RoPE limit; -1 when even zero do not.
  std::int64_t max_frames_resident = -1;
  std::int64_t max_frames_offload = -1;
  std::int64_t frames_limit = 0;  // the most frames checked
};

BudgetVerdict judge_budget(const ModelDescription& model,
                           const MemoryPlan& plan,
                           std::uint64_t budget);

nlohmann::json plan_to_json(const MemoryPlan& plan, const std::optional<BudgetVerdict>& verdict);
std::string plan_to_text(const MemoryPlan& plan, const std::optional<BudgetVerdict>& verdict);

}  // namespace duogen::runtime
