// Running a list of jobs into an output directory: option resolution (built-in defaults <
// duogen.json defaults < command line < the job's own fields), resume (finished job
// directories are skipped), one failing job recorded without stopping the others.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/interleaved.h"
#include "pipeline/job.h"
#include "pipeline/manifest.h"

namespace duogen::pipeline {

// Token text ("<BOV>") or decimal id ("151665") -> id; nullopt if the vocabulary lacks it.
using TokenLookup = std::function<std::optional<std::int64_t>(const std::string&)>;

// The settings one job runs with. Throws FormatError naming the job and field for a logit-bias
// token the vocabulary does not have.
InterleavedSettings resolve_settings(const ModelManifest& model, const JobOptions& cli,
                                     const Job& job, const TokenLookup& lookup,
                                     const std::set<std::int64_t>& stop_token_ids);

// The resolved settings as JSON, for result.json.
nlohmann::json settings_json(const InterleavedSettings& settings, const ModelManifest& model);

struct RunOptions {
  std::filesystem::path out_dir;
  JobOptions cli;          // command-line options, over duogen.json's defaults
  bool keep_going = true;  // a failing job is recorded and the next one runs
  bool image_only = false;  // t2i / edit: every job is one image (InterleavedSettings)
};

struct RunSummary {
  std::int64_t finished = 0;
  std::int64_t skipped = 0;  // finished in an earlier run
  std::vector<std::pair<std::string, std::string>> failures;  // job id -> message
};

struct RunCallbacks {
  InterleavedCallbacks generation;
  std::function<void(const Job&, std::size_t index, std::size_t total)> on_job_start;
  std::function<void(const Job&, const std::filesystem::path& dir)> on_job_done;
};

RunSummary run_jobs(const std::vector<Job>& jobs, const ModelManifest& model,
                    ConversationModel& mllm, ImageModel& images, const TokenLookup& lookup,
                    const std::set<std::int64_t>& stop_token_ids, const RunOptions& options,
                    const RunCallbacks& callbacks = {});

}  // namespace duogen::pipeline
