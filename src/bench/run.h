// Benchmark runs: every sample of a suite through the pipeline, into a run directory
//
//   <out>/run.json                   suite, shard, settings (written at the start; checked on
//                                    resume and by merge)
//   <out>/manifest.jsonl             one JSON line per finished sample, appended and fsync'd:
//                                    {"id", "index", "status": "ok"|"failed", "error"?, "seconds",
//                                     "images", "generated_tokens"}
//   <out>/samples/<id>/record.json   the neutral record: inputs, the ordered output segments of
//                                    every repeat with image paths, seeds, settings, timings
//   <out>/samples/<id>/*.png         its generated images
//
// A sample's directory is assembled under samples/.<id>.partial-<pid> and renamed into place,
// then its manifest line is appended. A kill -9 at any moment therefore leaves: a staging
// directory (removed on resume), a finished directory without its manifest line (the line is
// recovered from record.json on resume), or a torn last manifest line (ignored, and cut off
// before appending). Resume skips the samples with an "ok" line and reruns everything else,
// failed samples included; for a sample with several lines the last one counts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/suite.h"
#include "pipeline/interleaved.h"
#include "pipeline/manifest.h"
#include "pipeline/runner.h"

namespace duogen::bench {

struct Shard {
  std::int64_t index = 0;  // 0-based
  std::int64_t count = 1;
  bool operator==(const Shard&) const = default;
};

// "i/N" with 0 <= i < N. Throws UsageError otherwise.
Shard parse_shard(const std::string& text);

// The shard from launcher variables, looked up through `getenv` (the CLI passes std::getenv;
// the library reads no environment). Checked in this order, the first complete pair wins:
// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, SLURM_PROCID/SLURM_NTASKS, RANK/WORLD_SIZE
// (torchrun), OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE (Open MPI). A Slurm array whose ids do
// not start at 0 is rebased with SLURM_ARRAY_TASK_MIN when set. nullopt when none is set.
// Throws UsageError for values that are not integers or out of range, naming the variables.
std::optional<Shard> shard_from_environment(
    const std::function<const char*(const char*)>& getenv);

// Sample i of the suite belongs to shard i mod N: shards stay balanced whatever the order.
bool in_shard(const Sample& sample, const Shard& shard);

struct ManifestEntry {
  std::string id;
  std::int64_t index = 0;
  bool ok = false;
  std::string error;
  double seconds = 0;
  std::int64_t images = 0;
  std::int64_t generated_tokens = 0;
};

nlohmann::json manifest_line(const ManifestEntry& entry);

struct ManifestContents {
  std::vector<ManifestEntry> entries;  // in file order
  std::uint64_t valid_bytes = 0;       // the length up to the end of the last complete line
  bool torn_tail = false;              // bytes after it (a line cut by a kill), ignored
};

// Reads a manifest. A damaged last line (no newline, or not JSON) is reported in torn_tail;
// a damaged line before the last is a FormatError naming the file and line. Missing file: empty.
ManifestContents read_manifest(const std::filesystem::path& file);

// The last entry of every id.
std::map<std::string, ManifestEntry> latest_entries(const ManifestContents& manifest);

// JSON text with invalid UTF-8 (a model's partial character, an error message quoting bytes)
// replaced by U+FFFD instead of throwing: a record is never lost over one bad byte.
std::string dump_json(const nlohmann::json& value, int indent = -1);

// Appends `line` (which ends in '\n') with one write and fsyncs it, so a line reported written
// survives a crash; a kill mid-write can only cut the last line.
void append_line_synced(const std::filesystem::path& file, const std::string& line);

// Appends one manifest line (append_line_synced).
void append_manifest_line(const std::filesystem::path& file, const ManifestEntry& entry);

// The record of one finished (or failed) sample.
nlohmann::json sample_record(const Sample& sample,
                             const std::vector<pipeline::JobResult>& results,
                             const std::vector<std::vector<std::string>>& image_files,
                             double seconds);

// Image file name of image n (1-based) of repeat r: "image-<n>.png" for single-repeat samples,
// "r<r>-image-<n>.png" otherwise.
std::string record_image_name(const Sample& sample, std::int64_t repeat, std::size_t n);

// Writes samples/<id>/ (images, then record.json) atomically as described above and returns
// the directory. InvalidArgument if it already exists.
std::filesystem::path write_sample_outputs(const std::filesystem::path& run_dir,
                                           const Sample& sample,
                                           const std::vector<pipeline::JobResult>& results,
                                           double seconds);

// The models a run uses (owned by the caller).
struct BenchModels {
  const pipeline::ModelManifest* model = nullptr;
  pipeline::ConversationModel* mllm = nullptr;
  pipeline::ImageModel* images = nullptr;
  pipeline::TokenLookup lookup;
  std::set<std::int64_t> stop_token_ids;
};

struct BenchOptions {
  std::filesystem::path out_dir;
  pipeline::JobOptions cli;     // command-line job options (under each sample's own)
  std::uint64_t base_seed = 0;  // mixed into every derived seed (--seed)
  Shard shard;
  bool resume = false;  // false: the run directory must not hold a manifest yet
  std::string model_name;  // recorded in run.json (the exporters' default model name)
};

struct Progress {
  std::int64_t done = 0;   // finished in this run (ok or failed)
  std::int64_t total = 0;  // to run in this run (skipped ones excluded)
  std::int64_t failed = 0;
  double elapsed_s = 0;
};

// "[  3/12]  25.0%  0.50 samples/s  ETA 18s  (1 failed)", with a bar in front when `tty`.
std::string format_progress(const Progress& progress, bool tty);

struct BenchCallbacks {
  pipeline::InterleavedCallbacks generation;
  std::function<void(const Progress&)> on_progress;  // after every sample
  std::function<void(const Sample&)> on_sample_start;
};

struct BenchSummary {
  std::int64_t finished = 0;
  std::int64_t skipped = 0;
  std::int64_t recovered = 0;  // finished directories whose manifest line was missing
  std::vector<std::pair<std::string, std::string>> failures;  // id -> message
};

// Runs the suite's samples of `options.shard`. Throws UsageError when the directory holds a run
// of a different suite or shard, or a manifest while resume is off.
BenchSummary run_bench(const Suite& suite, const BenchModels& models, const BenchOptions& options,
                       const BenchCallbacks& callbacks = {});

// run.json for a suite and shard.
nlohmann::json run_info(const Suite& suite, const BenchOptions& options);

// Joins shard run directories into `out` (samples copied, manifests joined in suite order, the
// last entry per id). The shards must come from the same suite and settings and cover
// disjoint samples. Throws UsageError naming the shard that does not fit.
void merge_runs(const std::vector<std::filesystem::path>& shard_dirs,
                const std::filesystem::path& out);

// Shard directories under `dir` as written by `duogen bench --shard` (shard-<i>-of-<N>).
std::vector<std::filesystem::path> find_shard_dirs(const std::filesystem::path& dir);

// Records of a run with status ok, in suite order.
std::vector<nlohmann::json> read_records(const std::filesystem::path& run_dir);

}  // namespace duogen::bench
