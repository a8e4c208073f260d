// duogen plan MODEL_DIR: the memory plan of a run, before anything is loaded (weights per
// component from the safetensors headers or, for a component directory holding only a config,
// from the config; KV cache and hidden states; activation peak estimates), totals for running all
// resident and with offload, and a verdict against a device budget.
//
// MODEL_DIR is a DuoGen model (duogen.json; or its components given one by one with --mllm,
// --dit, --vae [--tokenizer], over or instead of it, as the generate commands take them) or a
// diffusers Cosmos-Predict2.5 snapshot (model_index.json, or a Hugging Face cache repository):
// then the plan is the world pipeline's (runtime/world_plan.h), sized by --width --height
// --frames --max-sequence-length.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "core/check.h"
#include "core/dtype.h"
#include "io/pipeline_snapshot.h"
#include "pipeline/manifest.h"
#include "runtime/byte_size.h"
#include "runtime/memory_plan.h"
#include "runtime/world_plan.h"

namespace duogen::cli {
namespace {

namespace fs = std::filesystem;

struct PlanArgs {
  std::string model;
  // DuoGen components one by one (over or instead of MODEL_DIR's duogen.json).
  std::string mllm, dit, vae, tokenizer;
  std::optional<std::int64_t> width;
  std::optional<std::int64_t> height;
  std::int64_t condition_frames = 0;
  std::string condition_size;  // WxH; default: the target size
  std::int64_t max_context = 4096;
  // Cosmos snapshots.
  std::int64_t frames = 93;
  std::int64_t max_sequence_length = 512;
  double guidance = 7.0;
  bool vae_tiling = false;
  std::string dtype = "bf16";
  std::string device = "cuda";
  std::optional<std::string> budget;
  std::optional<std::string> reserve;
  bool json = false;
  // Options that belong to one kind of model, to refuse them on the other by name.
  std::vector<CLI::Option*> duogen_components;
  std::vector<CLI::Option*> duogen_only;
  std::vector<CLI::Option*> snapshot_only;
};

void refuse_given(const std::vector<CLI::Option*>& options, const std::string& why) {
  for (const CLI::Option* o : options) {
    DUOGEN_CHECK(o->count() == 0, UsageError, "{} {}", o->get_name(), why);
  }
}

std::optional<fs::path> given(const std::string& s) {
  return s.empty() ? std::optional<fs::path>() : std::optional<fs::path>(s);
}

// The Cosmos-Predict2.5 world pipeline on a diffusers snapshot.
void run_snapshot_plan(const PlanArgs& a,
                       c10::ScalarType dtype,
                       std::optional<std::uint64_t> budget,
                       std::uint64_t reserve) {
  refuse_given(a.duogen_components,
               "is for DuoGen components; a Cosmos snapshot brings its own (text_encoder/, "
               "transformer/, vae/)");
  refuse_given(a.duogen_only,
               "is for DuoGen models (duogen.json); a Cosmos snapshot is sized by --width "
               "--height --frames --max-sequence-length");
  runtime::WorldPlanOptions o;
  o.width = a.width.value_or(o.width);
  o.height = a.height.value_or(o.height);
  DUOGEN_CHECK(o.width > 0 && o.width % 16 == 0, UsageError,
               "--width {}: must be a positive multiple of 16 (the DiT's 2x2 patches of the "
               "VAE's 8x latents)",
               o.width);
  DUOGEN_CHECK(o.height > 0 && o.height % 16 == 0, UsageError,
               "--height {}: must be a positive multiple of 16 (the DiT's 2x2 patches of the "
               "VAE's 8x latents)",
               o.height);
  DUOGEN_CHECK(a.frames >= 1, UsageError, "--frames {}: must be at least 1 (1: an image)",
               a.frames);
  DUOGEN_CHECK(a.max_sequence_length >= 1, UsageError, "--max-sequence-length {}: must be >= 1",
               a.max_sequence_length);
  DUOGEN_CHECK(a.guidance >= 0.0 && std::isfinite(a.guidance), UsageError,
               "--guidance {}: must be a non-negative number", a.guidance);
  o.frames = a.frames;
  o.max_sequence_length = a.max_sequence_length;
  o.cfg = a.guidance > 1.0;  // diffusers' do_classifier_free_guidance
  o.dtype = dtype;
  o.cpu = a.device == "cpu";
  o.vae_tiling = a.vae_tiling;
  o.reserve = reserve;

  const io::PipelineSnapshot snapshot = io::read_pipeline_snapshot(a.model);
  const runtime::WorldDescription model = runtime::describe_snapshot(snapshot);
  // The DiT's RoPE tables bound the video (the run would fail at its first step).
  const auto& dit = model.transformer;
  const std::int64_t t_factor = model.vae.scale_factor_temporal;
  const std::int64_t s_factor = model.vae.scale_factor_spatial;
  const std::int64_t max_t = dit.max_size[0] / dit.patch_size[0];
  DUOGEN_CHECK((o.frames - 1) / t_factor + 1 <= max_t, UsageError,
               "--frames {}: {} latent frames exceed the transformer's RoPE range of {} "
               "(max_size[0] in {}), i.e. at most {} frames",
               o.frames, (o.frames - 1) / t_factor + 1, max_t,
               (snapshot.component("transformer").dir / "config.json").string(),
               t_factor * (max_t - 1) + 1);
  DUOGEN_CHECK(o.height / s_factor <= dit.max_size[1] && o.width / s_factor <= dit.max_size[2],
               UsageError,
               "--width {} --height {}: beyond the transformer's RoPE range of {}x{} pixels "
               "(max_size in {})",
               o.width, o.height, dit.max_size[2] * s_factor, dit.max_size[1] * s_factor,
               (snapshot.component("transformer").dir / "config.json").string());

  const runtime::WorldPlan plan = runtime::plan_world(model, o);
  std::optional<runtime::WorldVerdict> verdict;
  if (budget) verdict = runtime::judge_world_budget(model, plan, *budget);
  if (a.json) {
    auto j = runtime::world_plan_to_json(plan, verdict);
    j["snapshot"] = snapshot.root.string();
    j["pipeline"] = snapshot.class_name;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "snapshot: " << snapshot.root.string() << " (" << snapshot.class_name << ")\n"
              << runtime::world_plan_to_text(plan, verdict);
  }
}

runtime::ImageSize parse_size(const std::string& text, const char* option) {
  const auto x = text.find('x');
  try {
    DUOGEN_CHECK(x != std::string::npos, UsageError, "");
    std::size_t used_w = 0;
    std::size_t used_h = 0;
    const std::string ws = text.substr(0, x);
    const std::string hs = text.substr(x + 1);
    const runtime::ImageSize size{std::stoll(ws, &used_w), std::stoll(hs, &used_h)};
    DUOGEN_CHECK(used_w == ws.size() && used_h == hs.size() && size.width > 0 && size.height > 0,
                 UsageError, "");
    return size;
  } catch (const std::exception&) {
    DUOGEN_FAIL(UsageError, "{} '{}': expected WIDTHxHEIGHT in pixels, e.g. 768x768", option, text);
  }
}

void run_plan(const PlanArgs& a) {
  // Usage errors first, before anything is read.
  const c10::ScalarType dtype = parse_float_dtype(a.dtype);
  std::optional<std::uint64_t> budget;
  if (a.budget) {
    try {
      budget = runtime::parse_byte_size(*a.budget);
    } catch (const InvalidArgument& e) {
      throw UsageError(fmt::format("--budget: {}", e.what()));
    }
  }
  std::uint64_t reserve = 0;
  if (a.reserve) {
    try {
      reserve = runtime::parse_byte_size(*a.reserve);
    } catch (const InvalidArgument& e) {
      throw UsageError(fmt::format("--reserve: {}", e.what()));
    }
  }
  DUOGEN_CHECK(!a.width || *a.width > 0, UsageError, "--width must be positive");
  DUOGEN_CHECK(!a.height || *a.height > 0, UsageError, "--height must be positive");

  std::error_code ec;
  DUOGEN_CHECK(a.model.empty() || fs::exists(a.model, ec), IoError, "{}: no such file or directory",
               a.model);
  if (!a.model.empty() && io::find_pipeline_snapshot(a.model)) {
    run_snapshot_plan(a, dtype, budget, reserve);
    return;
  }
  refuse_given(a.snapshot_only, "is for Cosmos-Predict2.5 diffusers snapshots (model_index.json)");
  DUOGEN_CHECK(!a.model.empty() || (!a.mllm.empty() && !a.dit.empty() && !a.vae.empty()),
               UsageError,
               "give MODEL_DIR (a DuoGen model with duogen.json, or a diffusers snapshot) or "
               "--mllm, --dit and --vae");
  std::optional<pipeline::ModelManifest> base;
  if (!a.model.empty()) base = pipeline::read_manifest(a.model);
  const pipeline::ModelManifest manifest = pipeline::resolve_components(
      base, given(a.mllm), given(a.dit), given(a.vae), given(a.tokenizer));
  const std::string model_name =
      manifest.file.empty() ? fmt::format("mllm {}, dit {}, vae {}", manifest.mllm.string(),
                                          manifest.dit.string(), manifest.vae.string())
                            : manifest.file.string();
  runtime::PlanOptions options;
  options.dtype = dtype;
  options.cpu = a.device == "cpu";
  options.max_context = a.max_context;
  options.reserve = reserve;
  options.target.width = a.width.value_or(manifest.defaults.width.value_or(768));
  options.target.height = a.height.value_or(manifest.defaults.height.value_or(768));
  const runtime::ImageSize frame =
      a.condition_size.empty() ? options.target : parse_size(a.condition_size, "--condition-size");
  options.condition_frames.assign(static_cast<std::size_t>(a.condition_frames), frame);

  const runtime::ModelDescription model = runtime::describe_model(manifest);
  const runtime::MemoryPlan plan = runtime::plan_memory(model, options);
  std::optional<runtime::BudgetVerdict> verdict;
  if (budget) verdict = runtime::judge_budget(model, plan, *budget);
  if (a.json) {
    auto j = runtime::plan_to_json(plan, verdict);
    j["model"] = manifest.file.string();
    j["component_paths"] = {{"mllm", manifest.mllm.string()},
                            {"tokenizer", manifest.tokenizer.string()},
                            {"dit", manifest.dit.string()},
                            {"vae", manifest.vae.string()}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "model: " << model_name << "\n" << runtime::plan_to_text(plan, verdict);
  }
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand(
      "plan", "Memory plan of a run (weights, caches, activation estimates) against a budget");
  cmd->add_option("MODEL_DIR", args->model,
                  "DuoGen model directory (duogen.json), or a Cosmos-Predict2.5 diffusers "
                  "snapshot (model_index.json, or a Hugging Face cache repository)");
  args->duogen_components.push_back(
      cmd->add_option("--mllm", args->mllm, "Qwen2.5-VL directory (over MODEL_DIR's duogen.json)"));
  args->duogen_components.push_back(
      cmd->add_option("--dit", args->dit, "Cosmos DiT checkpoint (over duogen.json)"));
  args->duogen_components.push_back(
      cmd->add_option("--vae", args->vae, "Wan2.1 VAE checkpoint (over duogen.json)"));
  args->duogen_components.push_back(cmd->add_option(
      "--tokenizer", args->tokenizer, "Tokenizer directory (default: duogen.json's, else --mllm)"));
  cmd->add_option("--width", args->width,
                  "Target width (default: duogen.json or 768; a snapshot: 1280)");
  cmd->add_option("--height", args->height,
                  "Target height (default: duogen.json or 768; a snapshot: 704)");
  args->duogen_only.push_back(cmd->add_option("--condition-frames", args->condition_frames,
                                              "Prior images in the conversation (condition frames)")
                                  ->check(CLI::Range(0, 127)));
  args->duogen_only.push_back(
      cmd->add_option("--condition-size", args->condition_size,
                      "WxH of each condition frame (default: the target size)"));
  args->duogen_only.push_back(
      cmd->add_option("--max-context", args->max_context, "KV cache capacity in tokens")
          ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 24)));
  args->snapshot_only.push_back(cmd->add_option(
      "--frames", args->frames, "Snapshot: video frames (default 93; 1: an image)"));
  args->snapshot_only.push_back(
      cmd->add_option("--max-sequence-length", args->max_sequence_length,
                      "Snapshot: prompt tokens per text encoder pass (default 512)"));
  args->snapshot_only.push_back(cmd->add_option(
      "--guidance", args->guidance,
      "Snapshot: CFG scale (default 7); <= 1 runs one branch and no negative prompt"));
  args->snapshot_only.push_back(cmd->add_flag("--vae-tiling", args->vae_tiling,
                                              "Snapshot: plan the VAE decode in 256-px tiles"));
  cmd->add_option("--dtype", args->dtype, "Compute dtype: bf16, fp16 or fp32")
      ->check(
          CLI::IsMember({"bf16", "fp16", "fp32", "bfloat16", "float16", "float32", "f16", "f32"}));
  cmd->add_option("--device", args->device,
                  "cuda (flash attention) or cpu (the reference attention's S x S scores count)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--budget", args->budget, "Device memory budget: 24GiB, 80GB, 1.5TiB or bytes");
  cmd->add_option("--reserve", args->reserve,
                  "Bytes held back for what is not estimated (CUDA context, fragmentation, "
                  "workspaces), e.g. 2GiB; default 0");
  cmd->add_flag("--json", args->json, "Print the plan as JSON");
  cmd->callback([args] { run_plan(*args); });
}

}  // namespace duogen::cli
