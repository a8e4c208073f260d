// The server's counters and histograms, rendered in Prometheus' text format for GET /metrics.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace duogen::server {

class Metrics {
 public:
  void request_done(const std::string& endpoint, int status, double seconds);
  void job_done(std::int64_t prompt_tokens, std::int64_t completion_tokens, std::size_t images,
                double decode_seconds);
  // `queue_depth` and `running` are read from the queue when the page is rendered.
  std::string prometheus(std::size_t queue_depth, bool running) const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative counts per bound in kBounds
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> durations_;
  std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, images_ = 0, jobs_ = 0;
  double decode_tokens_per_second_ = 0;
};

}  // namespace duogen::server
