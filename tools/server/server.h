// `duogen serve`: the OpenAI-compatible HTTP server over one duogen::Engine (docs/server.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "duogen/duogen.h"

namespace duogen::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: a free port
  std::string api_key;  // empty: no key needed
  std::size_t max_queue = 16;
  double timeout_s = 600;  // per request, from its arrival
  std::vector<std::filesystem::path> allow_paths;  // directories file:// images may come from
  std::size_t max_body = 32u << 20;
  std::int64_t max_input_images = 8;
  std::int64_t max_image_pixels = 4096LL * 4096;
  std::int64_t max_tokens = 4096;
  std::chrono::milliseconds shutdown_grace{10000};  // for the running job on shutdown
};

// Binds, calls `on_listening` with the URL ("http://127.0.0.1:8080"), serves until `shutdown`
// is requested, then stops as docs/server.md says (queued jobs 503, the running one finishes
// within the grace period or is cancelled) and returns. Throws duogen::Error if it cannot bind.
void serve(Engine& engine, const ServerOptions& options, std::stop_token shutdown,
           const std::function<void(const std::string& url)>& on_listening);

}  // namespace duogen::server
