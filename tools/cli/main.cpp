// duogen: command-line entry point. Exit codes: 0 ok, 1 runtime failure, 2 usage error.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include <cstdlib>

#include "cmd_bench.h"
#include "commands.h"
#include "model_loaders.h"
#include "core/logging.h"
#include "duogen/error.h"
#include "duogen/version.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Errors are printed whatever the log level: `-v off` silences logs, not the reason for a failure.
void report_error(const char* what) { fmt::print(stderr, "duogen: error: {}\n", what); }

std::string version_text() {
  return std::string("duogen ") + duogen::version() + " (libtorch " + duogen::torch_version() +
         (duogen::built_with_cuda() ? ", CUDA kernels" : ", CPU only") + ")";
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr so that stdout carries only a command's output (JSON, text, ...).
  spdlog::set_default_logger(spdlog::stderr_color_mt("duogen"));
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");

  CLI::App app{"duogen: interleaved text-and-image generation (DuoGen inference engine)"};
  app.set_version_flag("--version", version_text());
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("-v,--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  app.parse_complete_callback(
      [&] { duogen::set_log_level(duogen::parse_log_level(log_level)); });

  duogen::cli::add_inspect_command(app);
  duogen::cli::add_verify_command(app);
  duogen::cli::add_tokenize_command(app);
  duogen::cli::add_vae_command(app);
  duogen::cli::add_chat_command(app);
  duogen::cli::add_generate_commands(app);
  duogen::cli::add_plan_command(app);
  duogen::cli::add_video_command(app);
  duogen::cli::add_serve_command(app);
  duogen::cli::add_bench_command(app, duogen::cli::load_bench_models, std::getenv);
  duogen::cli::add_judge_command(app, duogen::cli::load_judge_model);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version (rc 0) or the usage error
    return rc == 0 ? kExitOk : kExitUsage;
  } catch (const duogen::UsageError& e) {
    report_error(e.what());
    return kExitUsage;
  } catch (const duogen::Error& e) {
    report_error(e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    report_error((std::string("unexpected: ") + e.what()).c_str());
    return kExitFailure;
  }
  return kExitOk;
}
