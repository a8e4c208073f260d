// duogen plan MODEL_DIR: the memory plan of a run, before anything is loaded (weights per
// component from the safetensors headers or, for a component directory holding only a config,
// from the config; KV cache and hidden states; activation peak estimates), totals for running all
// resident and with offload, and a verdict against a device budget.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "core/dtype.h"
#include "pipeline/manifest.h"
#include "runtime/byte_size.h"
#include "runtime/memory_plan.h"

namespace duogen::cli {
namespace {

struct PlanArgs {
  std::string model;
  std::optional<std::int64_t> width;
  std::optional<std::int64_t> height;
  std::int64_t condition_frames = 0;
  std::string condition_size;  // WxH; default: the target size
  std::int64_t max_context = 4096;
  std::string dtype = "bf16";
  std::string device = "cuda";
  std::optional<std::string> budget;
  std::optional<std::string> reserve;
  bool json = false;
};

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

  const pipeline::ModelManifest manifest = pipeline::read_manifest(a.model);
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
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "model: " << manifest.file.string() << "\n"
              << runtime::plan_to_text(plan, verdict);
  }
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand(
      "plan", "Memory plan of a run (weights, caches, activation estimates) against a budget");
  cmd->add_option("MODEL_DIR", args->model, "Model directory with duogen.json")->required();
  cmd->add_option("--width", args->width, "Target image width (default: duogen.json or 768)");
  cmd->add_option("--height", args->height, "Target image height (default: duogen.json or 768)");
  cmd->add_option("--condition-frames", args->condition_frames,
                  "Prior images in the conversation (condition frames)")
      ->check(CLI::Range(0, 127));
  cmd->add_option("--condition-size", args->condition_size,
                  "WxH of each condition frame (default: the target size)");
  cmd->add_option("--max-context", args->max_context, "KV cache capacity in tokens")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 24));
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
