// Benchmark suites: whatever the file format, every item becomes one neutral Sample, and every
// Sample becomes one or more pipeline::Jobs (GenEval: several images per prompt).
//
// Formats (docs/benchmarks.md has the details and examples):
//   generic       JSON Lines: {"id", "text", "images": [paths], "category", "subcategory",
//                 "metadata": {...}, "options": {job options}}
//   cooking       JSON Lines: {"id", "title", "image", "category", "subcategory"} -> dish image +
//                 title, asking for an illustrated recipe (Cooking-200)
//   cooking-text  the same file, the title only (Cooking-200's text-input variant)
//   howto         JSON Lines: {"id", "question", "category", "subcategory"} (How-to-500)
//   geneval       GenEval's evaluation_metadata.jsonl: {"tag", "include", ["exclude"], "prompt"}
//   imgedit       ImgEdit style JSON: {key: {"id": image path, "prompt", "edit_type"}}
//   gedit         GEdit style JSON Lines: {"key", "task_type", "instruction",
//                 "instruction_language", "image": path}
// Relative image paths are resolved against the image root (default: the suite file's folder).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/job.h"

namespace duogen::bench {

enum class SuiteFormat { kGeneric, kCooking, kCookingText, kHowTo, kGenEval, kImgEdit, kGEdit };

// What the model is asked to do; exporters and the judge use it.
enum class Task { kInterleaved, kTextToImage, kEdit };

struct Sample {
  std::string id;  // unique within the suite, a valid job id ([A-Za-z0-9._-])
  std::int64_t index = 0;  // position in the suite file (0-based); shards and merges keep it
  std::string suite;       // format name, e.g. "cooking"
  Task task = Task::kInterleaved;
  std::string category;
  std::string subcategory;
  std::string text;  // the user turn's text
  std::vector<std::filesystem::path> images;  // the user turn's images (absolute), before the text
  nlohmann::json metadata = nlohmann::json::object();  // format-specific (GenEval line, edit key)
  pipeline::JobOptions options;  // per-sample job options (generic suites may set them)
  std::int64_t repeats = 1;      // independent generations (GenEval: 4 images per prompt)
};

struct Suite {
  std::filesystem::path file;
  SuiteFormat format = SuiteFormat::kGeneric;
  std::vector<Sample> samples;
};

struct SuiteReadOptions {
  std::optional<SuiteFormat> format;              // nullopt: detect from the content
  std::optional<std::filesystem::path> image_root;  // nullopt: the suite file's folder
  std::int64_t geneval_images_per_prompt = 4;
};

// Reads a suite. Throws IoError if unreadable, FormatError naming the file, line and field for
// malformed items, duplicate ids and missing image files.
Suite read_suite(const std::filesystem::path& file, const SuiteReadOptions& options = {});

// "generic", "cooking", "cooking-text", "howto", "geneval", "imgedit", "gedit".
SuiteFormat parse_suite_format(const std::string& name);
const char* to_string(SuiteFormat format);
const char* to_string(Task task);
Task parse_task(const std::string& name);

// Detects the format from the file's first item (cooking-text needs to be asked for). Throws
// FormatError when nothing fits.
SuiteFormat detect_suite_format(const std::filesystem::path& file);

// The sample's user turn as a job message: images first, then the text.
pipeline::Message sample_message(const Sample& sample);

// The seed of repeat `repeat` of sample `id`: the low 31 bits of splitmix64(fnv1a64(id) +
// base_seed + repeat * 0x9E3779B97F4A7C15). It depends only on the id (not on the position, the
// shard or the order of running), and fits every noise generator (NumPy's takes < 2^32).
std::uint64_t derive_seed(const std::string& id, std::uint64_t base_seed, std::int64_t repeat);

// The jobs a sample runs: one per repeat, job id "<id>" (one repeat) or "<id>.r<k>", seed from
// derive_seed, per-sample options over `base` (the sample's own fields win, then the seed).
std::vector<pipeline::Job> sample_jobs(const Sample& sample, std::uint64_t base_seed);

// A string made into a valid sample id: characters outside [A-Za-z0-9._-] become '_', a leading
// '.' becomes '_', longer than 128 characters is an error.
std::string sanitize_id(const std::string& raw, const std::string& where);

}  // namespace duogen::bench
