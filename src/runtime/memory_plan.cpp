#include "runtime/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/checkpoint.h"
#include "pipeline/manifest.h"
#include "runtime/byte_size.h"

namespace duogen::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A component path names a file (its config.json lives beside it) or a directory.
fs::path config_dir(const fs::path& component) {
  std::error_code ec;
  return fs::is_directory(component, ec) ? component : component.parent_path();
}

WeightCensus census_of(const fs::path& path, const PartOf& part_of) {
  return census_checkpoint(io::Checkpoint::open(path), part_of);
}

std::string human_count(std::int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.3f}B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.2f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::int64_t dtype_bytes(c10::ScalarType dtype) {
  return static_cast<std::int64_t>(c10::elementSize(dtype));
}

}  // namespace

ModelDescription describe_configs(const qwen2_5_vl::Config& mllm,
                                  const cosmos_dit::Config& dit,
                                  const wan_vae::Config& vae) {
  ModelDescription d;
  d.mllm = mllm;
  d.dit = dit;
  d.vae = vae;
  d.mllm_weights = census_qwen_config(mllm);
  d.dit_weights = census_dit_config(dit);
  d.vae_weights = census_vae_config(vae);
  d.tokenizer_source = "host only";
  return d;
}

ModelDescription describe_model(const pipeline::ModelManifest& manifest) {
  ModelDescription d;
  d.mllm = qwen2_5_vl::Config::from_directory(config_dir(manifest.mllm));
  d.dit = cosmos_dit::Config::from_directory(config_dir(manifest.dit));
  d.vae = wan_vae::Config::from_directory(config_dir(manifest.vae));
  d.mllm_max_side = manifest.mllm_max_side;

  d.mllm_weights =
      has_weights(manifest.mllm) ? census_of(manifest.mllm, qwen_part) : census_qwen_config(d.mllm);
  d.dit_weights =
      has_weights(manifest.dit) ? census_of(manifest.dit, dit_part) : census_dit_config(d.dit);
  if (manifest.connector && has_weights(*manifest.connector)) {
    // Separately shipped connector weights replace whatever the DiT census counted for it.
    const WeightCensus connector =
        census_of(*manifest.connector, [](const std::string&) { return "connector"; });
    d.dit_weights.parts["connector"] = connector.parts.at("connector");
    d.dit_weights.source += fmt::format(" + connector {}", connector.source);
  }
  d.vae_weights =
      has_weights(manifest.vae)
          ? census_of(manifest.vae, [](const std::string&) { return std::string("vae"); })
          : census_vae_config(d.vae);
  const auto name_path = [](WeightCensus& census, const fs::path& path) {
    if (census.from_config) census.source += ": " + path.string();
  };
  name_path(d.mllm_weights, manifest.mllm);
  name_path(d.dit_weights, manifest.dit);
  name_path(d.vae_weights, manifest.vae);
  d.tokenizer_source = fmt::format("host only: {}", manifest.tokenizer.string());
  return d;
}

const ComponentPlan& MemoryPlan::component(const std::string& name) const {
  for (const auto& c : components) {
    if (c.name == name) return c;
  }
  DUOGEN_FAIL(InvalidArgument, "the memory plan has no component '{}'", name);
}

MemoryPlan plan_memory(const ModelDescription& model, const PlanOptions& options) {
  DUOGEN_CHECK(options.max_context > 0, InvalidArgument, "max context must be positive, got {}",
               options.max_context);
  DUOGEN_CHECK(options.target.width > 0 && options.target.height > 0, InvalidArgument,
               "target size must be positive, got {}x{}", options.target.width,
               options.target.height);
  DUOGEN_CHECK(options.cfg_branches >= 1, InvalidArgument, "CFG branches must be >= 1, got {}",
               options.cfg_branches);
  for (const auto& f : options.condition_frames) {
    DUOGEN_CHECK(f.width > 0 && f.height > 0, InvalidArgument,
                 "condition frame size must be positive, got {}x{}", f.width, f.height);
  }
  MemoryPlan plan;
  plan.options = options;
  const std::int64_t b = dtype_bytes(options.dtype);
  const AttentionPath path{options.cpu};
  const std::int64_t tokens = options.max_context;
  const auto& text = model.mllm.text;

  // MLLM: the text model and the vision tower are one resident unit (they serve one forward).
  ComponentPlan mllm;
  mllm.name = "mllm";
  mllm.source = model.mllm_weights.source;
  mllm.parameters = model.mllm_weights.parameters();
  mllm.weights = model.mllm_weights.bytes(options.dtype);
  // The MLLM writes text, so its output head is part of the text model here.
  mllm.weight_parts = {{"text", model.mllm_weights.part_bytes("text", options.dtype) +
                                    model.mllm_weights.part_bytes("head", options.dtype)},
                       {"vision", model.mllm_weights.part_bytes("vision", options.dtype)}};
  // KV cache: layers * 2 (k, v) * kv_heads * head_dim * capacity * b, preallocated.
  const std::uint64_t kv = static_cast<std::uint64_t>(text.num_hidden_layers) * 2 *
                           text.num_key_value_heads * text.head_dim() * tokens * b;
  // Hidden states kept per token for the DiT context (pipeline/qwen_conversation.cpp keeps
  // [layers + 1, n, hidden] per fed chunk, the embedding output included): (layers+1)*H*N*b.
  const std::uint64_t hidden =
      static_cast<std::uint64_t>(text.num_hidden_layers + 1) * text.hidden_size * tokens * b;
  mllm.cache_parts = {{"kv_cache", kv}, {"hidden_states", hidden}};
  mllm.cache = kv + hidden;
  const std::uint64_t prefill = mllm_prefill_bytes(text, tokens, b, path);
  std::uint64_t vit = 0;
  for (const auto& f : options.condition_frames) {
    vit = std::max(vit,
                   vit_bytes(model.mllm.vision, mllm_image_size(f, model.mllm_max_side), b, path));
  }
  mllm.activation_parts = {{"prefill", prefill}, {"vit", vit}};
  mllm.activations = std::max(prefill, vit);

  // DiT with its connector.
  ComponentPlan dit;
  dit.name = "dit";
  dit.source = model.dit_weights.source;
  dit.parameters = model.dit_weights.parameters();
  dit.weights = model.dit_weights.bytes(options.dtype);
  for (const char* part : {"dit", "connector"}) {
    dit.weight_parts.emplace_back(part, model.dit_weights.part_bytes(part, options.dtype));
  }
  const std::uint64_t context = dit_context_cache_bytes(model.dit, tokens, options.cfg_branches, b);
  dit.cache_parts = {{"context_kv", context}};
  dit.cache = context;
  dit.cache_per_image = true;
  std::vector<ImageSize> frames = options.condition_frames;
  frames.push_back(options.target);
  const std::uint64_t connector = connector_bytes(model.dit, tokens, text.num_hidden_layers,
                                                  text.hidden_size, options.cfg_branches, b);
  const std::uint64_t step =
      dit_step_bytes(model.dit, frames, tokens, options.cfg_branches, b, path);
  dit.activation_parts = {{"connector", connector}, {"step", step}};
  dit.activations = std::max(connector, step);

  ComponentPlan vae;
  vae.name = "vae";
  vae.source = model.vae_weights.source;
  vae.parameters = model.vae_weights.parameters();
  vae.weights = model.vae_weights.bytes(options.dtype);
  vae.weight_parts = {{"vae", vae.weights}};
  const std::uint64_t decode = vae_decode_bytes(model.vae, options.target, b, path);
  std::uint64_t encode = 0;
  for (const auto& f : options.condition_frames) {
    encode = std::max(encode, vae_encode_bytes(model.vae, f, b, path));
  }
  vae.activation_parts = {{"decode", decode}, {"encode", encode}};
  vae.activations = std::max(decode, encode);

  ComponentPlan tok;
  tok.name = "tokenizer";
  tok.source = model.tokenizer_source;

  plan.components = {std::move(mllm), std::move(dit), std::move(vae), std::move(tok)};
  std::uint64_t offload_unit = 0;
  for (const auto& c : plan.components) {
    const std::uint64_t working = c.activations + (c.cache_per_image ? c.cache : 0);
    plan.weights += c.weights;
    if (!c.cache_per_image) plan.run_caches += c.cache;
    if (working > plan.largest_working) {
      plan.largest_working = working;
      plan.largest_working_component = c.name;
    }
    if (c.weights + working > offload_unit) {
      offload_unit = c.weights + working;
      plan.offload_peak_component = c.name;
    }
  }
  plan.all_resident = plan.weights + plan.run_caches + plan.largest_working + options.reserve;
  plan.offload_device_peak = offload_unit + plan.run_caches + options.reserve;
  plan.pinned_host = plan.weights;
  return plan;
}

const char* to_string(Fit fit) {
  switch (fit) {
    case Fit::kResident:
      return "fits resident";
    case Fit::kOffload:
      return "fits with offload";
    case Fit::kNone:
      return "does not fit";
  }
  return "?";
}

BudgetVerdict judge_budget(const ModelDescription& model,
                           const MemoryPlan& plan,
                           std::uint64_t budget) {
  BudgetVerdict v;
  v.budget = budget;
  if (plan.all_resident <= budget) {
    v.fit = Fit::kResident;
    v.needed = plan.all_resident;
  } else {
    v.fit = plan.offload_device_peak <= budget ? Fit::kOffload : Fit::kNone;
    v.needed = plan.offload_device_peak;
  }
  v.headroom = v.fit == Fit::kNone ? 0 : budget - v.needed;
  v.shortfall = v.fit == Fit::kNone ? v.needed - budget : 0;

  // Frames grow every term monotonically, so count up until the first that does not fit. The
  // DiT's temporal RoPE covers max_size[0] frames, the target included.
  PlanOptions options = plan.options;
  const ImageSize frame =
      options.condition_frames.empty() ? options.target : options.condition_frames.front();
  const std::int64_t limit = model.dit.max_size[0] - 1;
  v.frames_limit = limit;
  for (std::int64_t k = 0; k <= limit; ++k) {
    options.condition_frames.assign(static_cast<std::size_t>(k), frame);
    const MemoryPlan p = plan_memory(model, options);
    const bool resident = p.all_resident <= budget;
    const bool offload = p.offload_device_peak <= budget;
    if (resident) v.max_frames_resident = k;
    if (offload) v.max_frames_offload = k;
    if (!resident && !offload) break;
  }
  return v;
}

json plan_to_json(const MemoryPlan& plan, const std::optional<BudgetVerdict>& verdict) {
  const auto& o = plan.options;
  json frames = json::array();
  for (const auto& f : o.condition_frames)
    frames.push_back({{"width", f.width}, {"height", f.height}});
  json out;
  out["estimate"] = true;
  out["options"] = {{"width", o.target.width},         {"height", o.target.height},
                    {"condition_frames", frames},      {"max_context", o.max_context},
                    {"dtype", c10::toString(o.dtype)}, {"device", o.cpu ? "cpu" : "cuda"},
                    {"cfg_branches", o.cfg_branches},  {"reserve", o.reserve}};
  const auto parts = [](const std::vector<std::pair<std::string, std::uint64_t>>& list) {
    json j = json::object();
    for (const auto& [k, v] : list) j[k] = v;
    return j;
  };
  out["components"] = json::array();
  for (const auto& c : plan.components) {
    out["components"].push_back({{"name", c.name},
                                 {"source", c.source},
                                 {"parameters", c.parameters},
                                 {"weights", c.weights},
                                 {"cache", c.cache},
                                 {"cache_lifetime", c.cache_per_image ? "image" : "run"},
                                 {"activations", c.activations},
                                 {"weight_parts", parts(c.weight_parts)},
                                 {"cache_parts", parts(c.cache_parts)},
                                 {"activation_parts", parts(c.activation_parts)}});
  }
  out["totals"] = {{"weights", plan.weights},
                   {"run_caches", plan.run_caches},
                   {"largest_working_set", plan.largest_working},
                   {"largest_working_set_component", plan.largest_working_component},
                   {"all_resident", plan.all_resident},
                   {"offload_device_peak", plan.offload_device_peak},
                   {"offload_peak_component", plan.offload_peak_component},
                   {"pinned_host", plan.pinned_host}};
  if (verdict) {
    out["verdict"] = {{"budget", verdict->budget},
                      {"fit", to_string(verdict->fit)},
                      {"needed", verdict->needed},
                      {"headroom", verdict->headroom},
                      {"shortfall", verdict->shortfall},
                      {"max_condition_frames_resident", verdict->max_frames_resident},
                      {"max_condition_frames_offload", verdict->max_frames_offload},
                      {"condition_frames_limit", verdict->frames_limit}};
  } else {
    out["verdict"] = nullptr;
  }
  return out;
}

std::string plan_to_text(const MemoryPlan& plan, const std::optional<BudgetVerdict>& verdict) {
  const auto& o = plan.options;
  std::string frames;
  for (const auto& f : o.condition_frames) {
    frames += fmt::format("{}{}x{}", frames.empty() ? "" : ", ", f.width, f.height);
  }
  std::string out = fmt::format(
      "memory plan (estimates of tensor bytes; allocator slack and library workspaces not "
      "counted)\n"
      "  target {}x{}, {} condition frame(s){}, context {} tokens, {}, {}, {} CFG branch(es)\n\n",
      o.target.width, o.target.height, o.condition_frames.size(),
      frames.empty() ? "" : " (" + frames + ")", o.max_context, c10::toString(o.dtype),
      o.cpu ? "cpu" : "cuda", o.cfg_branches);
  out += fmt::format("  {:<10} {:>12} {:>12} {:>12} {:>12}\n", "component", "parameters", "weights",
                     "cache", "activations");
  for (const auto& c : plan.components) {
    out += fmt::format("  {:<10} {:>12} {:>12} {:>12} {:>12}\n", c.name, human_count(c.parameters),
                       format_bytes(c.weights), format_bytes(c.cache), format_bytes(c.activations));
    const auto detail = [&out](const char* what,
                               const std::vector<std::pair<std::string, std::uint64_t>>& list) {
      if (list.empty()) return;
      std::string line;
      for (const auto& [k, v] : list) {
        line += fmt::format("{}{} {}", line.empty() ? "" : ", ", k, format_bytes(v));
      }
      out += fmt::format("  {:<10}   {}: {}\n", "", what, line);
    };
    detail("weights", c.weight_parts);
    detail("cache", c.cache_parts);
    detail("activations", c.activation_parts);
    out += fmt::format("  {:<10}   source: {}\n", "", c.source);
  }
  const std::string reserve =
      o.reserve > 0 ? fmt::format(" + reserve {}", format_bytes(o.reserve)) : "";
  out += fmt::format("\n  all resident:  {} (weights {} + run caches {} + {} working set {}{})\n",
                     format_bytes(plan.all_resident), format_bytes(plan.weights),
                     format_bytes(plan.run_caches), plan.largest_working_component,
                     format_bytes(plan.largest_working), reserve);
  out += fmt::format(
      "  offload:       device peak {} ({} weights + working set, + run caches {}{}); pinned "
      "host {}\n",
      format_bytes(plan.offload_device_peak), plan.offload_peak_component,
      format_bytes(plan.run_caches), reserve, format_bytes(plan.pinned_host));
  if (verdict) {
    out += fmt::format("\n  budget {}: {}", format_bytes(verdict->budget), to_string(verdict->fit));
    if (verdict->fit == Fit::kNone) {
      out += fmt::format(" (short by {}; offload needs {})\n", format_bytes(verdict->shortfall),
                         format_bytes(verdict->needed));
    } else {
      out += fmt::format(" (needs {}, headroom {})\n", format_bytes(verdict->needed),
                         format_bytes(verdict->headroom));
    }
    const auto frames_text = [](std::int64_t n) {
      return n < 0 ? std::string("none") : std::to_string(n);
    };
    out += fmt::format(
        "  condition frames of this size that fit: {} resident, {} with offload (checked up to "
        "{}, the DiT's temporal RoPE limit)\n",
        frames_text(verdict->max_frames_resident), frames_text(verdict->max_frames_offload),
        verdict->frames_limit);
  }
  return out;
}

}  // namespace duogen::runtime
