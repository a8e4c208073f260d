// `duogen bench` (run a suite; merge, export, aggregate, report) and `duogen judge`.
// The commands are written against the pipeline interfaces: the caller passes the function
// that builds the concrete models from a model manifest, so this file needs nothing from the
// model code. Register them in main.cpp with
//   duogen::cli::add_bench_command(app, load_bench_models);
//   duogen::cli::add_judge_command(app, load_judge_model);
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>

#include "core/device.h"
#include "pipeline/interleaved.h"
#include "pipeline/manifest.h"
#include "pipeline/runner.h"

namespace duogen::cli {

struct LoadedModels {
  std::unique_ptr<pipeline::ConversationModel> mllm;
  std::unique_ptr<pipeline::ImageModel> images;  // may be null for the judge
  pipeline::TokenLookup lookup;                  // token text or decimal id -> id
  std::set<std::int64_t> stop_token_ids;         // end of turn / end of text
};

// Builds the models of a resolved DuoGen model manifest (bench) on the --device/--dtype given.
using BenchModelLoader =
    std::function<LoadedModels(const pipeline::ModelManifest&, const DevicePlacement&)>;
// Builds a text-only judge from a Qwen2.5-VL checkpoint directory (images may stay null).
using JudgeModelLoader =
    std::function<LoadedModels(const std::filesystem::path& mllm_dir, const DevicePlacement&)>;
// getenv-like lookup; the CLI passes std::getenv, tests a map.
using EnvLookup = std::function<const char*(const char*)>;

void add_bench_command(CLI::App& app, BenchModelLoader load_models, EnvLookup getenv);
void add_judge_command(CLI::App& app, JudgeModelLoader load_judge);

}  // namespace duogen::cli
