#include "metrics.h"

#include <fmt/format.h>

#include <array>

namespace duogen::server {
namespace {

// Request latency bucket bounds (seconds): tiny-model answers to multi-minute real images.
constexpr std::array<double, 13> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                            1,     2.5,  5,     10,   30,  120};

}  // namespace

void Metrics::request_done(const std::string& endpoint, int status, double seconds) {
  const std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
  Histogram& h = durations_[endpoint];
  if (h.buckets.empty()) h.buckets.assign(kBounds.size(), 0);
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::job_done(std::int64_t prompt_tokens, std::int64_t completion_tokens,
                       std::size_t images, double decode_seconds) {
  const std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt_tokens;
  completion_tokens_ += completion_tokens;
  images_ += images;
  ++jobs_;
  if (decode_seconds > 0) decode_tokens_per_second_ = completion_tokens / decode_seconds;
}

std::string Metrics::prometheus(std::size_t queue_depth, bool running) const {
  const std::lock_guard lock(mutex_);
  std::string out;
  const auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("duogen_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (const auto& [key, n] : requests_) {
    out += fmt::format("duogen_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, n);
  }
  family("duogen_queue_depth", "gauge", "Generation requests waiting for the model.");
  out += fmt::format("duogen_queue_depth {}\n", queue_depth);
  family("duogen_jobs_running", "gauge", "Generations running (0 or 1: one model, one device).");
  out += fmt::format("duogen_jobs_running {}\n", running ? 1 : 0);
  family("duogen_jobs_total", "counter", "Generations finished.");
  out += fmt::format("duogen_jobs_total {}\n", jobs_);
  family("duogen_prompt_tokens_total", "counter", "Prompt tokens prefilled.");
  out += fmt::format("duogen_prompt_tokens_total {}\n", prompt_tokens_);
  family("duogen_completion_tokens_total", "counter", "Tokens generated.");
  out += fmt::format("duogen_completion_tokens_total {}\n", completion_tokens_);
  family("duogen_images_total", "counter", "Images generated.");
  out += fmt::format("duogen_images_total {}\n", images_);
  family("duogen_decode_tokens_per_second", "gauge", "Decode speed of the last generation.");
  out += fmt::format("duogen_decode_tokens_per_second {}\n", decode_tokens_per_second_);
  family("duogen_request_duration_seconds", "histogram", "Request latency by endpoint.");
  for (const auto& [endpoint, h] : durations_) {
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
      out += fmt::format("duogen_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n",
                         endpoint, kBounds[i], h.buckets[i]);
    }
    out += fmt::format("duogen_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n",
                       endpoint, h.count);
    out += fmt::format("duogen_request_duration_seconds_sum{{endpoint=\"{}\"}} {}\n", endpoint,
                       h.sum);
    out += fmt::format("duogen_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n", endpoint,
                       h.count);
  }
  return out;
}

}  // namespace duogen::server
