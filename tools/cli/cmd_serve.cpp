// duogen serve --model DIR [--host H] [--port P] [--api-key K] [--max-queue N] [--timeout S] ...
// The OpenAI-compatible server (tools/server, docs/server.md) on the public API.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "device_options.h"
#include "duogen/duogen.h"
#include "server.h"

namespace duogen::cli {
namespace {

struct ServeArgs {
  std::string model, offload, max_body = "32MiB";
  std::string attention_table;  // bench_kernels --table-out; empty: the built-in order
  DeviceDtypeArgs placement;
  std::vector<std::string> allow_paths;
  server::ServerOptions options;
};

// SIGTERM / SIGINT -> `stop`. The signals are blocked in every thread (the mask is inherited by
// threads created after this), and one thread waits for them.
class ShutdownSignals {
 public:
  explicit ShutdownSignals(std::stop_source stop) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    waiter_ = std::jthread([this, stop](std::stop_token done) mutable {
      const timespec tick{0, 200'000'000};
      while (!done.stop_requested()) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
          spdlog::info("{} received", sig == SIGTERM ? "SIGTERM" : "SIGINT");
          stop.request_stop();
          return;
        }
      }
    });
  }

 private:
  sigset_t set_{};
  std::jthread waiter_;
};

void run_serve(const ServeArgs& a) {
  // Writes to a client that went away must fail with EPIPE, not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  std::stop_source stop;
  const ShutdownSignals signals(stop);
  server::ServerOptions options = a.options;
  try {
    options.max_body = static_cast<std::size_t>(parse_byte_size(a.max_body));
  } catch (const InvalidArgument& e) {
    throw UsageError(fmt::format("--max-body: {}", e.what()));
  }
  for (const auto& dir : a.allow_paths) options.allow_paths.emplace_back(dir);
  EngineOptions engine_options;
  engine_options.model = a.model;
  engine_options.device = a.placement.device;
  engine_options.dtype = a.placement.dtype.value_or("");
  engine_options.offload = a.offload;
  engine_options.attention_table = a.attention_table;
  const std::unique_ptr<Engine> engine = Engine::load(engine_options);
  server::serve(*engine, options, stop.get_token(), [](const std::string& url) {
    fmt::print("duogen serve: listening on {}\n", url);
    std::fflush(stdout);
  });
  spdlog::info("server stopped");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server with streamed interleaved text and images");
  cmd->add_option("--model", a->model, "DuoGen model directory or Cosmos-Predict2.5 snapshot")
      ->required();
  cmd->add_option("--host", a->options.host, "address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", a->options.port, "port (default 8080; 0 = a free one)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", a->options.api_key, "require Authorization: Bearer KEY on /v1/*");
  cmd->add_option("--max-queue", a->options.max_queue,
                  "requests that may wait for the model (default 16; 429 beyond)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--timeout", a->options.timeout_s,
                  "seconds a request may take from its arrival (default 600; 504 after)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--allow-path", a->allow_paths,
                  "directory whose files requests may name as image URLs (repeatable)");
  cmd->add_option("--max-body", a->max_body, "largest request body (default 32MiB; 413 beyond)");
  cmd->add_option("--max-input-images", a->options.max_input_images,
                  "images per request (default 8; 413 beyond)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--max-image-pixels", a->options.max_image_pixels,
                  "pixels per input image (default 4096x4096; 413 beyond)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-tokens", a->options.max_tokens,
                  "largest max_tokens a request may ask for (default 4096)")
      ->check(CLI::Range(1, 1 << 20));
  add_device_dtype_options(cmd, a->placement);
  cmd->add_option("--offload", a->offload,
                  "device budget (e.g. 22GiB): keep only the components in use on the device");
  cmd->add_option("--attention-table", a->attention_table,
                  "measured attention table (bench_kernels --table-out)")
      ->check(CLI::ExistingFile);
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace duogen::cli
