// What a finished job leaves on disk, under <out>/<job id>/:
//   image-1.png, image-2.png, ...  generated images, generation parameters in PNG tEXt chunks
//   result.json                    the interleaved output in order (text segments, image files),
//                                  token counts, seed, settings, per-stage timings
//   result.md                      the same for reading
//   index.html                     self-contained page (images inlined) showing the conversation
// The directory is assembled under a hidden staging name and renamed into place, so a job's
// directory is either complete or absent: a killed run never leaves half a job behind, and
// resuming treats every existing job directory as done.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/png_text.h"
#include "pipeline/job.h"

namespace duogen::pipeline {

struct OutputSegment {
  enum class Kind { kText, kImage };
  Kind kind = Kind::kText;
  std::string text;          // kText
  at::Tensor image;          // kImage: uint8 [H, W, 3]
  io::PngText image_params;  // kImage: stored as tEXt chunks and in result.json
};

struct JobResult {
  Job job;
  std::vector<OutputSegment> segments;
  std::int64_t prompt_tokens = 0;
  std::int64_t generated_tokens = 0;
  std::uint64_t seed = 0;
  std::string stop_reason;  // eos | max_new_tokens | max_images | ...
  nlohmann::json settings = nlohmann::json::object();  // the resolved options
  std::vector<std::pair<std::string, double>> timings_s;  // stage -> seconds, in order
};

// Writes the job directory as described above and returns its path. Throws InvalidArgument if
// it already exists (callers skip finished jobs), IoError if it cannot be written; on any error
// the staging directory is removed.
std::filesystem::path write_job_outputs(const std::filesystem::path& out_dir,
                                        const JobResult& result);

// True when <out_dir>/<id>/result.json exists, i.e. the job finished in an earlier run.
bool job_finished(const std::filesystem::path& out_dir, const std::string& id);

// Generated image file name for the n-th image (1-based): "image-<n>.png".
std::string image_file_name(std::size_t n);

// The pieces, exposed for tests and for the bench reports.
nlohmann::json result_json(const JobResult& result);
std::string result_markdown(const JobResult& result);
std::string result_html(const JobResult& result);

}  // namespace duogen::pipeline
