// report.html: one page per run with a gallery of every finished sample (input, the
// interleaved output, its judge scores), throughput and the failures. Images are linked by
// relative path (samples/<id>/...), not inlined, so the page stays small for large suites; it
// is written into the run directory and opened from there.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/judge.h"
#include "bench/run.h"

namespace duogen::bench {

struct Throughput {
  std::int64_t samples = 0;
  std::int64_t failed = 0;
  std::int64_t generated_tokens = 0;
  double decode_s = 0;   // time spent sampling text tokens
  std::int64_t images = 0;
  double image_s = 0;    // time spent making images (DiT + VAE)
  double total_s = 0;    // the samples' own times, summed (ok and failed)
  double tokens_per_s() const { return decode_s > 0 ? generated_tokens / decode_s : 0; }
  double seconds_per_image() const { return images > 0 ? image_s / images : 0; }
};

// From the records' timings ("decode", "image_total") and the manifest.
Throughput compute_throughput(const std::vector<nlohmann::json>& records,
                              const std::vector<ManifestEntry>& latest);

// The page's HTML. `scores` may be empty (a run not judged yet).
std::string report_html(const std::filesystem::path& run_dir,
                        const std::vector<JudgeScore>& scores);

// Writes <run>/report.html atomically and returns its path; uses <run>/judge/scores.jsonl when
// present.
std::filesystem::path write_report(const std::filesystem::path& run_dir);

}  // namespace duogen::bench
