// Subcommand registration. Each command file adds its CLI11 subcommand and a callback that
// throws duogen errors; main() turns those into exit codes.
#pragma once

#include <CLI/CLI.hpp>

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
// serve: the OpenAI-compatible HTTP server
void add_serve_command(CLI::App& app);

}  // namespace duogen::cli
