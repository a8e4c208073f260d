// duogen inspect PATH [--json]: what a checkpoint holds (config summary, tensors, parameters per
// top-level prefix, dtypes, bytes). PATH is a .safetensors file or a checkpoint directory.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "io/checkpoint.h"

namespace duogen::cli {
namespace {

using nlohmann::json;

// Hyperparameters worth showing, looked up at the top level and in the nested sub-configs.
constexpr const char* kSummaryKeys[] = {
    "model_type",          "architectures",     "torch_dtype",  "dtype",
    "hidden_size",         "num_hidden_layers", "depth",        "num_attention_heads",
    "num_heads",           "num_key_value_heads", "intermediate_size", "vocab_size",
    "out_hidden_size",     "patch_size",        "spatial_merge_size", "z_dim"};

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
    report["files"].push_back({{"path", f.path().string()},
                               {"tensors", f.tensors().size()},
                               {"bytes", f.file_size()}});
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

void print_text(const json& r) {
  std::cout << "checkpoint: " << r["path"].get<std::string>() << "\n";
  std::cout << "files: " << r["files"].size() << "\n";
  for (const auto& f : r["files"]) {
    std::cout << "  " << f["path"].get<std::string>() << "  (" << f["tensors"].get<int64_t>()
              << " tensors, " << human_bytes(f["bytes"].get<std::uint64_t>()) << ")\n";
  }
  if (!r["config"].is_null()) {
    std::cout << "config:\n";
    print_config(r["config"], "  ");
  }
  std::cout << fmt::format("tensors: {}\nparameters: {} ({})\nbytes: {}\n",
                           r["tensors"].get<std::int64_t>(), r["parameters"].get<std::int64_t>(),
                           human_count(r["parameters"].get<std::int64_t>()),
                           human_bytes(r["bytes"].get<std::uint64_t>()));
  if (r.contains("prefixes")) {
    std::cout << "parameters per prefix:\n";
    for (const auto& [prefix, v] : r["prefixes"].items()) {
      std::cout << fmt::format("  {:<24} {:>10}  {}\n", prefix,
                               human_count(v["parameters"].get<std::int64_t>()),
                               human_bytes(v["bytes"].get<std::uint64_t>()));
    }
  }
  if (r.contains("dtypes")) {
    std::cout << "dtypes:\n";
    for (const auto& [dtype, v] : r["dtypes"].items()) {
      std::cout << fmt::format("  {:<8} {:>6} tensors  {}\n", dtype,
                               v["tensors"].get<std::int64_t>(),
                               human_bytes(v["bytes"].get<std::uint64_t>()));
    }
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Summarise a safetensors file or checkpoint directory");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("path", *path, "a .safetensors file or a checkpoint directory")->required();
  cmd->add_flag("--json", *as_json, "print a JSON report instead of text");
  cmd->callback([path, as_json] {
    const json report = inspect(*path);
    if (*as_json) {
      std::cout << report.dump(2) << "\n";
    } else {
      print_text(report);
    }
  });
}

}  // namespace duogen::cli
