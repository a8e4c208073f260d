// Subcommand registration. Each command file adds its CLI11 subcommand and a callback that
// throws duogen errors; main() turns those into exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "device_options.h"

namespace duogen::cli {

void add_inspect_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_vae_command(CLI::App& app);
void add_chat_command(CLI::App& app);
// generate, t2i, edit, init-tiny
void add_generate_commands(CLI::App& app);
// plan: memory plan of a run
void add_plan_command(CLI::App& app);
// video: the published Cosmos-Predict2.5 pipeline (diffusers snapshots)
void add_video_command(CLI::App& app);

// `t2i --model SNAPSHOT`: one image (num_frames = 1) from the Cosmos pipeline, written to `out`
// (.png). Unset options take the pipeline's defaults.
struct CosmosImageArgs {
  std::string model, prompt, out;
  DeviceDtypeArgs placement;
  std::optional<std::uint64_t> seed;
  std::optional<std::int64_t> steps, width, height;
  std::optional<double> guidance;
};
void run_cosmos_image(const CosmosImageArgs& args);

}  // namespace duogen::cli
