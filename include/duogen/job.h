// A generation job as users write it: an OpenAI-style chat conversation plus per-job options.
//
// Job files are JSON (one job object) or JSON Lines (one job per line; blank lines skipped):
//   {"id": "dish-1",
//    "messages": [{"role": "user", "content": [{"type": "text", "text": "Cook this"},
//                                              {"type": "image", "path": "dish.jpg"}]}],
//    "seed": 7, "steps": 30, "guidance": 5.0, "width": 768, "height": 768,
//    "max_new_tokens": 512, "max_images": 4, "temperature": 0.7, "top_k": 50, "top_p": 0.9,
//    "min_p": 0.0, "repetition_penalty": 1.05, "logit_bias": {"<BOV>": 4.0, "151643": -100}}
// `content` may also be a plain string. Image parts are {"type": "image", "path": P} or OpenAI's
// {"type": "image_url", "image_url": {"url": P | "file://P" | "data:image/...;base64,..."}};
// relative paths are relative to the job file. Every error names the file, line, job and field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace duogen {

struct ContentPart {
  enum class Kind { kText, kImage };
  Kind kind = Kind::kText;
  std::string text;                  // kText
  std::filesystem::path image_path;  // kImage: a file on disk (absolute), or empty when inline
  std::string image_bytes;           // kImage given inline: the encoded file bytes (PNG, JPEG...)
};

struct Message {
  std::string role;  // system | user | assistant
  std::vector<ContentPart> content;
};

// Every field is optional: unset fields take the model's defaults (duogen.json) or the caller's
// (EngineOptions::defaults, the command line). Ranges are checked when a job is read or run.
struct JobOptions {
  std::optional<std::uint64_t> seed;
  std::optional<std::int64_t> steps;
  std::optional<double> guidance;
  std::optional<std::int64_t> width;
  std::optional<std::int64_t> height;
  std::optional<std::int64_t> max_new_tokens;
  std::optional<std::int64_t> max_images;
  std::optional<double> temperature;
  std::optional<std::int64_t> top_k;
  std::optional<double> top_p;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<std::string> solver;    // euler | unipc
  std::optional<std::string> schedule;  // linear_shift | karras
  // Token (its text, e.g. "<BOV>", or its decimal id) -> additive logit bias; a JSON object, so
  // each token appears once per source (ordered by key).
  std::vector<std::pair<std::string, double>> logit_bias;
};

struct Job {
  std::string id;      // unique within a file; safe as a directory name; written into the PNGs
  std::string source;  // "file.jsonl:3", for messages
  std::vector<Message> messages;
  JobOptions options;
};

// Reads a .json (one job) or .jsonl (one job per line) file. Throws IoError if it cannot be
// read, FieldError (a FormatError) naming the file, line, job and field for anything malformed:
// unknown keys, wrong types, out-of-range values, missing or duplicate ids, missing image files.
std::vector<Job> read_job_file(const std::filesystem::path& path);

// Parses one job object given as JSON text; `base_dir` resolves relative image paths, `source`
// names it in errors, `default_id` is used when the object has no "id".
Job parse_job(const std::string& json_text, const std::filesystem::path& base_dir,
              const std::string& source, const std::string& default_id);

// Throws FieldError naming the field for an option out of its range (the checks read_job_file
// makes, for jobs built in code).
void check_options(const JobOptions& options, const std::string& source);

// The characters a job id may use: [A-Za-z0-9._-], not starting with '.', at most 128.
bool is_valid_job_id(const std::string& id);

}  // namespace duogen
