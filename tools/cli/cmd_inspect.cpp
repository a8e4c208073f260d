// duogen inspect PATH [--json]: what a checkpoint holds (config summary, tensors, parameters per
// top-level prefix, dtypes, bytes). PATH is a .safetensors file or a checkpoint directory, or a
// diffusers pipeline snapshot (model_index.json, or a Hugging Face cache repository): then the
// pipeline class, every component (library, class, directory) with that summary for the ones
// holding weights, and the scheduler config's key settings.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "io/checkpoint.h"
#include "io/pipeline_snapshot.h"
#include "runtime/weight_census.h"
#include "sampling/flow/diffusers_scheduler.h"

namespace duogen::cli {
namespace {

using nlohmann::json;

// Hyperparameters worth showing, looked up at the top level and in the nested sub-configs.
constexpr const char* kSummaryKeys[] = {"_class_name",
                                        "model_type",
                                        "architectures",
                                        "torch_dtype",
                                        "dtype",
                                        "hidden_size",
                                        "num_hidden_layers",
                                        "depth",
                                        "num_layers",
                                        "num_attention_heads",
                                        "num_heads",
                                        "attention_head_dim",
                                        "num_key_value_heads",
                                        "intermediate_size",
                                        "mlp_ratio",
                                        "vocab_size",
                                        "out_hidden_size",
                                        "in_channels",
                                        "out_channels",
                                        "patch_size",
                                        "spatial_merge_size",
                                        "text_embed_dim",
                                        "crossattn_proj_in_channels",
                                        "max_size",
                                        "base_dim",
                                        "dim_mult",
                                        "num_res_blocks",
                                        "z_dim"};

json summarize_config(const json& config) {
  json out = json::object();
  for (const char* key : kSummaryKeys) {
    if (config.contains(key)) out[key] = config[key];
  }
  for (const auto& [key, value] : config.items()) {
    if (value.is_object() && key.size() > 7 && key.ends_with("_config")) {
      out[key] = summarize_config(value);
    }
  }
  return out;
}

json read_config(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  if (!std::filesystem::exists(path)) return nullptr;
  std::ifstream in(path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!j.is_discarded() && j.is_object(), FormatError, "{}: not a JSON object",
               path.string());
  return j;
}

json inspect(const std::filesystem::path& path) {
  const auto ck = io::Checkpoint::open(path);
  json report;
  report["path"] = path.string();
  report["files"] = json::array();
  for (const auto& f : ck.files()) {
    report["files"].push_back(
        {{"path", f.path().string()}, {"tensors", f.tensors().size()}, {"bytes", f.file_size()}});
  }
  const json config = std::filesystem::is_directory(path) ? read_config(path) : json(nullptr);
  report["config"] = config.is_null() ? json(nullptr) : summarize_config(config);
  report["metadata"] = ck.metadata();

  std::map<std::string, std::pair<std::int64_t, std::uint64_t>> by_prefix;  // params, bytes
  std::map<std::string, std::pair<std::int64_t, std::uint64_t>> by_dtype;   // tensors, bytes
  std::int64_t params = 0;
  for (const auto& name : ck.names()) {
    const auto& info = ck.info(name);
    const std::string prefix = name.substr(0, name.find('.'));
    by_prefix[prefix].first += info.numel();
    by_prefix[prefix].second += info.nbytes;
    const std::string dtype(safetensors_name(info.dtype));
    by_dtype[dtype].first += 1;
    by_dtype[dtype].second += info.nbytes;
    params += info.numel();
  }
  report["tensors"] = ck.size();
  report["parameters"] = params;
  report["bytes"] = ck.total_bytes();
  for (const auto& [prefix, pb] : by_prefix) {
    report["prefixes"][prefix] = {{"parameters", pb.first}, {"bytes", pb.second}};
  }
  for (const auto& [dtype, tb] : by_dtype) {
    report["dtypes"][dtype] = {{"tensors", tb.first}, {"bytes", tb.second}};
  }
  return report;
}

// Scheduler settings worth showing (diffusers' UniPCMultistepScheduler keys; others that the
// config holds are in the file).
constexpr const char* kSchedulerKeys[] = {"num_train_timesteps",
                                          "prediction_type",
                                          "use_flow_sigmas",
                                          "use_karras_sigmas",
                                          "use_exponential_sigmas",
                                          "use_beta_sigmas",
                                          "use_dynamic_shifting",
                                          "flow_shift",
                                          "sigma_min",
                                          "sigma_max",
                                          "final_sigmas_type",
                                          "timestep_spacing",
                                          "solver_order",
                                          "solver_type",
                                          "predict_x0",
                                          "lower_order_final",
                                          "disable_corrector",
                                          "thresholding"};

json inspect_scheduler(const std::filesystem::path& dir) {
  const auto file = dir / "scheduler_config.json";
  json out;
  out["config_file"] = file.string();
  std::ifstream in(file);
  DUOGEN_CHECK(in.good(), IoError, "{}: missing (a scheduler component holds its config)",
               file.string());
  const json config = json::parse(in, nullptr, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!config.is_discarded() && config.is_object(), FormatError, "{}: not a JSON object",
               file.string());
  out["settings"] = json::object();
  for (const char* key : kSchedulerKeys) {
    if (config.contains(key)) out["settings"][key] = config[key];
  }
  // Whether the Cosmos pipeline runs it: every key honoured, or the first refused by name.
  try {
    sampling::flow::read_diffusers_scheduler(file);
    out["duogen"] = "supported";
  } catch (const Error& e) {
    out["duogen"] = std::string("refused: ") + e.what();
  }
  return out;
}

json inspect_snapshot(const io::PipelineSnapshot& snapshot) {
  json report;
  report["snapshot"] = snapshot.root.string();
  report["pipeline"] = snapshot.class_name;
  report["diffusers_version"] = snapshot.diffusers_version;
  report["components"] = json::array();
  for (const auto& [name, c] : snapshot.components) {
    json entry = {{"name", name},
                  {"library", c.library},
                  {"class", c.class_name},
                  {"directory", c.dir.string()}};
    if (runtime::has_weights(c.dir)) {
      entry["checkpoint"] = inspect(c.dir);
    } else {
      entry["checkpoint"] = nullptr;
      const json config = read_config(c.dir);
      if (!config.is_null()) entry["config"] = summarize_config(config);
    }
    if (std::filesystem::exists(c.dir / "scheduler_config.json")) {
      entry["scheduler"] = inspect_scheduler(c.dir);
    }
    json files = json::array();
    for (const auto& f : std::filesystem::directory_iterator(c.dir)) {
      files.push_back(f.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    entry["files"] = files;
    report["components"].push_back(std::move(entry));
  }
  return report;
}

std::string human_count(std::int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1'000) return fmt::format("{:.2f}K", n / 1e3);
  return std::to_string(n);
}

std::string human_bytes(std::uint64_t n) {
  if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", n / double(1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.2f} MiB", n / double(1ull << 20));
  if (n >= (1ull << 10)) return fmt::format("{:.2f} KiB", n / double(1ull << 10));
  return fmt::format("{} B", n);
}

void print_config(const json& config, const std::string& indent) {
  for (const auto& [key, value] : config.items()) {
    if (value.is_object()) {
      std::cout << indent << key << ":\n";
      print_config(value, indent + "  ");
    } else {
      std::cout << indent << key << ": " << value.dump() << "\n";
    }
  }
}

// `in` indents every line (a snapshot's components are printed nested).
void print_text(const json& r, const std::string& in = "") {
  std::cout << in << "checkpoint: " << r["path"].get<std::string>() << "\n";
  std::cout << in << "files: " << r["files"].size() << "\n";
  for (const auto& f : r["files"]) {
    std::cout << in << "  " << f["path"].get<std::string>() << "  (" << f["tensors"].get<int64_t>()
              << " tensors, " << human_bytes(f["bytes"].get<std::uint64_t>()) << ")\n";
  }
  if (!r["config"].is_null()) {
    std::cout << in << "config:\n";
    print_config(r["config"], in + "  ");
  }
  std::cout << fmt::format("{0}tensors: {1}\n{0}parameters: {2} ({3})\n{0}bytes: {4}\n", in,
                           r["tensors"].get<std::int64_t>(), r["parameters"].get<std::int64_t>(),
                           human_count(r["parameters"].get<std::int64_t>()),
                           human_bytes(r["bytes"].get<std::uint64_t>()));
  if (r.contains("prefixes")) {
    std::cout << in << "parameters per prefix:\n";
    for (const auto& [prefix, v] : r["prefixes"].items()) {
      std::cout << fmt::format("{}  {:<24} {:>10}  {}\n", in, prefix,
                               human_count(v["parameters"].get<std::int64_t>()),
                               human_bytes(v["bytes"].get<std::uint64_t>()));
    }
  }
  if (r.contains("dtypes")) {
    std::cout << in << "dtypes:\n";
    for (const auto& [dtype, v] : r["dtypes"].items()) {
      std::cout << fmt::format("{}  {:<8} {:>6} tensors  {}\n", in, dtype,
                               v["tensors"].get<std::int64_t>(),
                               human_bytes(v["bytes"].get<std::uint64_t>()));
    }
  }
}

void print_snapshot_text(const json& r) {
  std::cout << "pipeline: " << r["pipeline"].get<std::string>();
  const auto version = r["diffusers_version"].get<std::string>();
  if (!version.empty()) std::cout << " (diffusers " << version << ")";
  std::cout << "\nsnapshot: " << r["snapshot"].get<std::string>() << "\ncomponents:\n";
  for (const auto& c : r["components"]) {
    std::cout << fmt::format("  {:<14} {:<13} {:<36} {}\n", c["name"].get<std::string>(),
                             c["library"].get<std::string>(), c["class"].get<std::string>(),
                             c["directory"].get<std::string>());
  }
  for (const auto& c : r["components"]) {
    std::cout << "\n"
              << c["name"].get<std::string>() << " (" << c["library"].get<std::string>() << " "
              << c["class"].get<std::string>() << "):\n";
    if (!c["checkpoint"].is_null()) {
      print_text(c["checkpoint"], "  ");
    } else if (c.contains("config")) {
      std::cout << "  config:\n";
      print_config(c["config"], "    ");
    }
    if (c.contains("scheduler")) {
      const auto& sc = c["scheduler"];
      std::cout << "  " << sc["config_file"].get<std::string>() << ":\n";
      print_config(sc["settings"], "    ");
      std::cout << "  duogen: " << sc["duogen"].get<std::string>() << "\n";
    }
    if (c["checkpoint"].is_null()) {
      std::string files;
      for (const auto& f : c["files"]) files += (files.empty() ? "" : ", ") + f.get<std::string>();
      std::cout << "  files: " << (files.empty() ? "none" : files) << "\n";
    }
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "inspect", "Summarise a safetensors file, a checkpoint directory or a diffusers snapshot");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("path", *path,
                  "a .safetensors file, a checkpoint directory, or a diffusers pipeline snapshot "
                  "(model_index.json)")
      ->required();
  cmd->add_flag("--json", *as_json, "print a JSON report instead of text");
  cmd->callback([path, as_json] {
    const bool snapshot = io::find_pipeline_snapshot(*path).has_value();
    const json report =
        snapshot ? inspect_snapshot(io::read_pipeline_snapshot(*path)) : inspect(*path);
    if (*as_json) {
      std::cout << report.dump(2) << "\n";
    } else if (snapshot) {
      print_snapshot_text(report);
    } else {
      print_text(report);
    }
  });
}

}  // namespace duogen::cli
