// Loaders that build the concrete models for the commands written against the pipeline
// interfaces (bench, judge).
#pragma once

#include <filesystem>

#include "cmd_bench.h"

namespace duogen::cli {

LoadedModels load_bench_models(const pipeline::ModelManifest& manifest,
                               const DevicePlacement& placement);
LoadedModels load_judge_model(const std::filesystem::path& mllm_dir,
                              const DevicePlacement& placement);

}  // namespace duogen::cli
