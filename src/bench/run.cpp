#include "bench/run.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/json_config.h"
#include "io/png_text.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kRunFormat = "duogen-bench-run-v1";
constexpr const char* kRecordFormat = "duogen-bench-record-v1";

std::int64_t parse_int(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  std::int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DUOGEN_CHECK(used == text.size() && !text.empty(), UsageError, "{} must be an integer, got '{}'",
               what, text);
  return v;
}

ManifestEntry entry_from_json(const json& v, const std::string& where) {
  DUOGEN_CHECK(v.is_object() && v.contains("id") && v["id"].is_string() && v.contains("status"),
               FormatError, "{}: a manifest line needs 'id' and 'status'", where);
  ManifestEntry e;
  e.id = v["id"].get<std::string>();
  e.index = v.value("index", std::int64_t{0});
  e.ok = v["status"] == "ok";
  e.error = v.value("error", std::string());
  e.seconds = v.value("seconds", 0.0);
  e.images = v.value("images", std::int64_t{0});
  e.generated_tokens = v.value("generated_tokens", std::int64_t{0});
  return e;
}

ManifestEntry entry_from_record(const json& record) {
  ManifestEntry e;
  e.id = record.at("id").get<std::string>();
  e.index = record.at("index").get<std::int64_t>();
  e.ok = record.at("status") == "ok";
  e.error = record.value("error", std::string());
  e.seconds = record.value("seconds", 0.0);
  for (const auto& out : record.at("outputs")) {
    e.generated_tokens += out.value("generated_tokens", std::int64_t{0});
    for (const auto& seg : out.at("segments")) e.images += seg.at("type") == "image" ? 1 : 0;
  }
  return e;
}

void write_manifest_file(const fs::path& file, const std::vector<ManifestEntry>& entries) {
  std::string text;
  for (const auto& e : entries) text += dump_json(manifest_line(e)) + "\n";
  io::write_file_atomically(file, text);
}

// Cuts a torn tail off so that the next append starts on a fresh line.
void truncate_to(const fs::path& file, std::uint64_t size) {
  std::error_code ec;
  fs::resize_file(file, size, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot cut off the torn last line: {}", file.string(),
               ec.message());
}

void remove_staging_dirs(const fs::path& samples_dir) {
  std::error_code ec;
  if (!fs::is_directory(samples_dir, ec)) return;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(samples_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".partial-") != std::string::npos) {
      stale.push_back(entry.path());
    }
  }
  for (const auto& p : stale) {
    spdlog::info("removing {}, left by an interrupted run", p.string());
    fs::remove_all(p, ec);
  }
}

json read_json(const fs::path& file) { return io::read_json_file(file); }

}  // namespace

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  DUOGEN_CHECK(slash != std::string::npos, UsageError, "--shard must be i/N, got '{}'", text);
  Shard s{parse_int(text.substr(0, slash), "--shard's i"),
          parse_int(text.substr(slash + 1), "--shard's N")};
  DUOGEN_CHECK(s.count >= 1 && s.index >= 0 && s.index < s.count, UsageError,
               "--shard {}: need 0 <= i < N", text);
  return s;
}

std::optional<Shard> shard_from_environment(
    const std::function<const char*(const char*)>& getenv) {
  static const char* const kPairs[][2] = {{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"},
                                          {"SLURM_PROCID", "SLURM_NTASKS"},
                                          {"RANK", "WORLD_SIZE"},
                                          {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}};
  for (const auto& pair : kPairs) {
    const char* index = getenv(pair[0]);
    const char* count = getenv(pair[1]);
    if (index == nullptr || count == nullptr || *index == 0 || *count == 0) continue;
    Shard s{parse_int(index, pair[0]), parse_int(count, pair[1])};
    if (std::string(pair[0]) == "SLURM_ARRAY_TASK_ID") {
      if (const char* min = getenv("SLURM_ARRAY_TASK_MIN"); min != nullptr && *min != 0) {
        s.index -= parse_int(min, "SLURM_ARRAY_TASK_MIN");  // arrays like --array=1-8
      }
    }
    DUOGEN_CHECK(s.count >= 1 && s.index >= 0 && s.index < s.count, UsageError,
                 "{}={} and {}={} do not make a shard (need 0 <= index < count)", pair[0], index,
                 pair[1], count);
    return s;
  }
  return std::nullopt;
}

bool in_shard(const Sample& sample, const Shard& shard) {
  return sample.index % shard.count == shard.index;
}

json manifest_line(const ManifestEntry& e) {
  json v = {{"id", e.id}, {"index", e.index}, {"status", e.ok ? "ok" : "failed"}};
  if (!e.ok) v["error"] = e.error;
  v["seconds"] = e.seconds;
  v["images"] = e.images;
  v["generated_tokens"] = e.generated_tokens;
  return v;
}

ManifestContents read_manifest(const fs::path& file) {
  ManifestContents out;
  std::error_code ec;
  if (!fs::exists(file, ec)) return out;
  std::ifstream in(file, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the manifest", file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::size_t pos = 0;
  std::int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const std::size_t end = text.find('\n', pos);
    const bool complete = end != std::string::npos;
    const std::string line = text.substr(pos, complete ? end - pos : std::string::npos);
    const json v = json::parse(line, nullptr, false);
    const bool last = !complete || end + 1 >= text.size();
    if (!complete || v.is_discarded()) {
      // A kill during the append leaves the last line cut; anything earlier is real damage.
      DUOGEN_CHECK(last, FormatError,
                   "{}:{}: damaged manifest line (not JSON) before the end of the file",
                   file.string(), line_no);
      out.torn_tail = true;
      break;
    }
    out.entries.push_back(entry_from_json(v, fmt::format("{}:{}", file.string(), line_no)));
    pos = end + 1;
    out.valid_bytes = pos;
  }
  return out;
}

std::map<std::string, ManifestEntry> latest_entries(const ManifestContents& manifest) {
  std::map<std::string, ManifestEntry> out;
  for (const auto& e : manifest.entries) out[e.id] = e;
  return out;
}

void append_manifest_line(const fs::path& file, const ManifestEntry& entry) {
  append_line_synced(file, dump_json(manifest_line(entry)) + "\n");
}

void append_line_synced(const fs::path& file, const std::string& line) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  DUOGEN_CHECK(fd >= 0, IoError, "{}: cannot open the manifest for appending", file.string());
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0) {
      ::close(fd);
      DUOGEN_FAIL(IoError, "{}: write failed", file.string());
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  DUOGEN_CHECK(synced, IoError, "{}: fsync failed", file.string());
}

std::string dump_json(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string record_image_name(const Sample& sample, std::int64_t repeat, std::size_t n) {
  return sample.repeats == 1 ? fmt::format("image-{}.png", n)
                             : fmt::format("r{}-image-{}.png", repeat, n);
}

json sample_record(const Sample& sample, const std::vector<pipeline::JobResult>& results,
                   const std::vector<std::vector<std::string>>& image_files, double seconds) {
  json images = json::array();
  for (const auto& p : sample.images) images.push_back(p.string());
  json outputs = json::array();
  json settings;
  for (std::size_t r = 0; r < results.size(); ++r) {
    const auto& res = results[r];
    json segments = json::array();
    std::size_t n = 0;
    for (const auto& s : res.segments) {
      if (s.kind == pipeline::OutputSegment::Kind::kText) {
        segments.push_back({{"type", "text"}, {"text", s.text}});
      } else {
        json params = json::object();
        for (const auto& [k, v] : s.image_params) params[k] = v;
        segments.push_back({{"type", "image"},
                            {"path", image_files.at(r).at(n++)},
                            {"width", s.image.size(1)},
                            {"height", s.image.size(0)},
                            {"params", params}});
      }
    }
    json timings = json::object();
    for (const auto& [stage, sec] : res.timings_s) timings[stage] = sec;
    outputs.push_back({{"repeat", r},
                       {"seed", res.seed},
                       {"segments", segments},
                       {"prompt_tokens", res.prompt_tokens},
                       {"generated_tokens", res.generated_tokens},
                       {"stop_reason", res.stop_reason},
                       {"timings_s", timings}});
    settings = res.settings;  // the same for every repeat but the seed
  }
  return {{"format", kRecordFormat},
          {"id", sample.id},
          {"index", sample.index},
          {"suite", sample.suite},
          {"task", to_string(sample.task)},
          {"category", sample.category},
          {"subcategory", sample.subcategory},
          {"metadata", sample.metadata},
          {"input", {{"text", sample.text}, {"images", images}}},
          {"status", "ok"},
          {"settings", settings},
          {"outputs", outputs},
          {"seconds", seconds}};
}

fs::path write_sample_outputs(const fs::path& run_dir, const Sample& sample,
                              const std::vector<pipeline::JobResult>& results, double seconds) {
  const fs::path samples = run_dir / "samples";
  const fs::path final_dir = samples / sample.id;
  std::error_code ec;
  DUOGEN_CHECK(!fs::exists(final_dir, ec), InvalidArgument,
               "{}: the sample's directory already exists", final_dir.string());
  fs::create_directories(samples, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create: {}", samples.string(), ec.message());
  const fs::path staging =
      samples / fmt::format(".{}.partial-{}", sample.id, static_cast<long>(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create: {}", staging.string(), ec.message());
  try {
    std::vector<std::vector<std::string>> names(results.size());
    for (std::size_t r = 0; r < results.size(); ++r) {
      for (const auto& s : results[r].segments) {
        if (s.kind != pipeline::OutputSegment::Kind::kImage) continue;
        names[r].push_back(
            record_image_name(sample, static_cast<std::int64_t>(r), names[r].size() + 1));
        io::write_png_with_text(staging / names[r].back(), s.image, s.image_params);
      }
    }
    // record.json last: a directory holding it is complete.
    io::write_file_atomically(staging / "record.json",
                              dump_json(sample_record(sample, results, names, seconds), 2) + "\n");
    fs::rename(staging, final_dir, ec);
    DUOGEN_CHECK(!ec, IoError, "{}: cannot move the finished sample into place: {}",
                 final_dir.string(), ec.message());
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
  return final_dir;
}

std::string format_progress(const Progress& p, bool tty) {
  const double fraction = p.total > 0 ? static_cast<double>(p.done) / p.total : 1.0;
  const double rate = p.elapsed_s > 0 ? p.done / p.elapsed_s : 0.0;
  std::string eta = "--";
  if (rate > 0) {
    const auto left = static_cast<std::int64_t>(std::llround((p.total - p.done) / rate));
    eta = left >= 3600 ? fmt::format("{}h{:02d}m", left / 3600, (left % 3600) / 60)
          : left >= 60 ? fmt::format("{}m{:02d}s", left / 60, left % 60)
                       : fmt::format("{}s", left);
  }
  const int width = static_cast<int>(std::to_string(p.total).size());
  std::string text = fmt::format("[{:>{}}/{}] {:5.1f}%  {:.2f} samples/s  ETA {}", p.done, width,
                                 p.total, 100.0 * fraction, rate, eta);
  if (p.failed > 0) text += fmt::format("  ({} failed)", p.failed);
  if (!tty) return text;
  constexpr int kBar = 24;
  const int filled = static_cast<int>(fraction * kBar);
  return "|" + std::string(filled, '#') + std::string(kBar - filled, '.') + "| " + text;
}

json run_info(const Suite& suite, const BenchOptions& options) {
  json ids = json::array();
  for (const auto& s : suite.samples) ids.push_back(s.id);
  return {{"format", kRunFormat},
          {"suite_file", fs::absolute(suite.file).string()},
          {"suite_format", to_string(suite.format)},
          {"samples", suite.samples.size()},
          {"sample_ids_hash", derive_seed(ids.dump(), 0, 0)},
          {"base_seed", options.base_seed},
          {"model", options.model_name},
          {"shard", {{"index", options.shard.index}, {"count", options.shard.count}}}};
}

BenchSummary run_bench(const Suite& suite, const BenchModels& models, const BenchOptions& options,
                       const BenchCallbacks& callbacks) {
  DUOGEN_CHECK(models.model && models.mllm && models.images, InvalidArgument,
               "run_bench needs a model manifest, an MLLM and an image model");
  const fs::path& out = options.out_dir;
  const fs::path manifest_file = out / "manifest.jsonl";
  const fs::path info_file = out / "run.json";
  std::error_code ec;
  fs::create_directories(out / "samples", ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create the run directory: {}", out.string(),
               ec.message());
  const json info = run_info(suite, options);
  if (fs::exists(info_file, ec)) {
    const json old = read_json(info_file);
    for (const char* key : {"suite_format", "sample_ids_hash", "base_seed", "shard"}) {
      DUOGEN_CHECK(old.value(key, json()) == info[key], UsageError,
                   "{}: the directory holds a run with a different '{}' ({} here, {} asked); "
                   "use another --out",
                   info_file.string(), key, old.value(key, json()).dump(), info[key].dump());
    }
  }
  ManifestContents manifest = read_manifest(manifest_file);
  DUOGEN_CHECK(options.resume || (manifest.entries.empty() && !manifest.torn_tail), UsageError,
               "{}: the directory already holds a run; pass --resume to continue it",
               out.string());
  if (manifest.torn_tail) {
    spdlog::warn("{}: the last line was cut by an interrupted run; it is ignored",
                 manifest_file.string());
    truncate_to(manifest_file, manifest.valid_bytes);
  }
  io::write_file_atomically(info_file, info.dump(2) + "\n");
  remove_staging_dirs(out / "samples");
  auto latest = latest_entries(manifest);

  BenchSummary summary;
  std::vector<const Sample*> todo;
  for (const auto& sample : suite.samples) {
    if (!in_shard(sample, options.shard)) continue;
    const auto it = latest.find(sample.id);
    const fs::path dir = out / "samples" / sample.id;
    const bool has_record = fs::is_regular_file(dir / "record.json", ec);
    if (it != latest.end() && it->second.ok && has_record) {
      ++summary.skipped;
      continue;
    }
    if (has_record) {
      // Killed between the rename and the manifest append: the sample is complete.
      const json record = read_json(dir / "record.json");
      if (record.value("status", "") == "ok") {
        append_manifest_line(manifest_file, entry_from_record(record));
        ++summary.recovered;
        ++summary.skipped;
        continue;
      }
    }
    if (fs::exists(dir, ec)) fs::remove_all(dir, ec);  // a failed or incomplete earlier try
    todo.push_back(&sample);
  }

  Progress progress;
  progress.total = static_cast<std::int64_t>(todo.size());
  const auto run_start = Clock::now();
  for (const Sample* sample : todo) {
    if (callbacks.on_sample_start) callbacks.on_sample_start(*sample);
    const auto start = Clock::now();
    ManifestEntry entry;
    entry.id = sample->id;
    entry.index = sample->index;
    try {
      std::vector<pipeline::JobResult> results;
      for (const auto& job : sample_jobs(*sample, options.base_seed)) {
        auto settings = pipeline::resolve_settings(*models.model, options.cli, job,
                                                   models.lookup, models.stop_token_ids);
        // Text-to-image and edit samples answer with exactly one image (the t2i/edit commands'
        // rule); interleaved ones decide for themselves.
        settings.image_only = sample->task != Task::kInterleaved;
        pipeline::JobResult result =
            pipeline::run_interleaved(*models.mllm, *models.images, job, settings,
                                      callbacks.generation);
        result.settings = pipeline::settings_json(settings, *models.model);
        entry.generated_tokens += result.generated_tokens;
        for (const auto& s : result.segments) {
          entry.images += s.kind == pipeline::OutputSegment::Kind::kImage ? 1 : 0;
        }
        results.push_back(std::move(result));
      }
      entry.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      write_sample_outputs(out, *sample, results, entry.seconds);
      entry.ok = true;
      ++summary.finished;
    } catch (const std::exception& e) {
      // A corrupt input image or an out-of-memory error on one sample: record it, go on.
      entry.ok = false;
      entry.error = e.what();
      entry.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      summary.failures.emplace_back(sample->id, e.what());
      ++progress.failed;
      spdlog::error("sample '{}' failed: {}", sample->id, e.what());
    }
    append_manifest_line(manifest_file, entry);
    ++progress.done;
    progress.elapsed_s = std::chrono::duration<double>(Clock::now() - run_start).count();
    if (callbacks.on_progress) callbacks.on_progress(progress);
  }
  return summary;
}

std::vector<fs::path> find_shard_dirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("shard-", 0) == 0 &&
        fs::exists(entry.path() / "run.json", ec)) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void merge_runs(const std::vector<fs::path>& shard_dirs, const fs::path& out) {
  DUOGEN_CHECK(!shard_dirs.empty(), UsageError, "bench merge: no shard directories to merge");
  std::error_code ec;
  DUOGEN_CHECK(!fs::exists(out / "manifest.jsonl", ec), UsageError,
               "{}: already holds a merged run (manifest.jsonl exists)", out.string());
  json first;
  std::set<std::int64_t> shards_seen;
  std::map<std::int64_t, ManifestEntry> by_index;
  std::map<std::string, fs::path> sample_dirs;
  for (const auto& dir : shard_dirs) {
    const json info = read_json(dir / "run.json");
    if (first.is_null()) first = info;
    for (const char* key : {"suite_format", "sample_ids_hash", "base_seed", "samples"}) {
      DUOGEN_CHECK(info.value(key, json()) == first[key], UsageError,
                   "{}: '{}' differs from the first shard's ({} vs {}): not the same run",
                   dir.string(), key, info.value(key, json()).dump(), first[key].dump());
    }
    const auto index = info.at("shard").at("index").get<std::int64_t>();
    DUOGEN_CHECK(info["shard"]["count"] == first["shard"]["count"], UsageError,
                 "{}: shard count {} differs from {}", dir.string(), info["shard"]["count"].dump(),
                 first["shard"]["count"].dump());
    DUOGEN_CHECK(shards_seen.insert(index).second, UsageError, "{}: shard {} given twice",
                 dir.string(), index);
    for (const auto& [id, e] : latest_entries(read_manifest(dir / "manifest.jsonl"))) {
      DUOGEN_CHECK(sample_dirs.count(id) == 0, UsageError,
                   "{}: sample '{}' is also in another shard", dir.string(), id);
      sample_dirs[id] = dir / "samples" / id;
      by_index[e.index] = e;
    }
  }
  const auto count = first["shard"]["count"].get<std::int64_t>();
  if (static_cast<std::int64_t>(shards_seen.size()) != count) {
    spdlog::warn("bench merge: {} of {} shards given; the merged run is partial",
                 shards_seen.size(), count);
  }
  fs::create_directories(out / "samples", ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create: {}", out.string(), ec.message());
  std::vector<ManifestEntry> entries;
  for (const auto& [index, e] : by_index) {
    entries.push_back(e);
    if (!e.ok) continue;
    const fs::path target = out / "samples" / e.id;
    DUOGEN_CHECK(!fs::exists(target, ec), UsageError, "{}: already exists", target.string());
    fs::copy(sample_dirs[e.id], target, fs::copy_options::recursive, ec);
    DUOGEN_CHECK(!ec, IoError, "{}: cannot copy to {}: {}", sample_dirs[e.id].string(),
                 target.string(), ec.message());
  }
  json info = first;
  info["shard"] = {{"index", 0}, {"count", 1}};
  info["merged_from"] = json::array();
  for (const auto& d : shard_dirs) info["merged_from"].push_back(fs::absolute(d).string());
  io::write_file_atomically(out / "run.json", info.dump(2) + "\n");
  write_manifest_file(out / "manifest.jsonl", entries);  // last: marks the merge complete
}

std::vector<json> read_records(const fs::path& run_dir) {
  std::vector<std::pair<std::int64_t, json>> ok;
  for (const auto& [id, e] : latest_entries(read_manifest(run_dir / "manifest.jsonl"))) {
    if (!e.ok) continue;
    json record = read_json(run_dir / "samples" / id / "record.json");
    ok.emplace_back(e.index, std::move(record));
  }
  std::sort(ok.begin(), ok.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<json> out;
  for (auto& [index, record] : ok) out.push_back(std::move(record));
  return out;
}

}  // namespace duogen::bench
