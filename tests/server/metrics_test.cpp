// GET /metrics: Prometheus text with the documented families, counters that add up.
#include <gtest/gtest.h>

#include "metrics.h"

namespace duogen::server {
namespace {

TEST(Metrics, PrometheusText) {
  Metrics m;
  m.request_done("/v1/chat/completions", 200, 0.3);
  m.request_done("/v1/chat/completions", 200, 3.0);
  m.request_done("/v1/chat/completions", 429, 0.001);
  m.job_done(10, 20, 1, 0.5);
  m.job_done(5, 8, 2, 0.2);
  const std::string text = m.prometheus(3, true);
  for (const char* line : {
           "duogen_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2\n",
           "duogen_requests_total{endpoint=\"/v1/chat/completions\",status=\"429\"} 1\n",
           "duogen_queue_depth 3\n",
           "duogen_jobs_running 1\n",
           "duogen_prompt_tokens_total 15\n",
           "duogen_completion_tokens_total 28\n",
           "duogen_images_total 3\n",
           "duogen_decode_tokens_per_second 40\n",  // the last job: 8 tokens in 0.2 s
           "duogen_request_duration_seconds_bucket{endpoint=\"/v1/chat/completions\",le=\"0.5\"} 2\n",
           "duogen_request_duration_seconds_bucket{endpoint=\"/v1/chat/completions\",le=\"+Inf\"} 3\n",
           "duogen_request_duration_seconds_count{endpoint=\"/v1/chat/completions\"} 3\n",
           "# TYPE duogen_request_duration_seconds histogram\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace duogen::server
