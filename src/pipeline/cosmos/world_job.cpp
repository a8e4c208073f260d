#include "pipeline/cosmos/world_job.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/check.h"
#include "pipeline/job.h"

namespace duogen::pipeline::cosmos {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void field_error(const std::string& source,
                              const std::string& key,
                              const std::string& what) {
  DUOGEN_FAIL(FormatError, "{}: field '{}' {}", source, key, what);
}

std::string text(const json& v, const std::string& source, const std::string& key) {
  if (!v.is_string()) field_error(source, key, fmt::format("must be a string, got {}", v.dump()));
  return v.get<std::string>();
}

double number(const json& v, const std::string& source, const std::string& key) {
  if (!v.is_number()) field_error(source, key, fmt::format("must be a number, got {}", v.dump()));
  return v.get<double>();
}

std::int64_t integer(const json& v,
                     const std::string& source,
                     const std::string& key,
                     std::int64_t lo,
                     std::int64_t hi) {
  if (!v.is_number_integer()) {
    field_error(source, key, fmt::format("must be an integer, got {}", v.dump()));
  }
  const auto n = v.get<std::int64_t>();
  if (n < lo || n > hi)
    field_error(source, key, fmt::format("must be in [{}, {}], got {}", lo, hi, n));
  return n;
}

fs::path input_path(const json& v,
                    const fs::path& base,
                    const std::string& source,
                    const std::string& key) {
  fs::path p = text(v, source, key);
  if (p.is_relative()) p = base / p;
  std::error_code ec;
  if (!fs::exists(p, ec))
    field_error(source, key, fmt::format("names {}, which does not exist", p.string()));
  return p;
}

WorldJob parse(const json& v,
               const fs::path& base,
               const std::string& source,
               const std::string& default_id,
               const WorldJobDefaults& defaults) {
  if (!v.is_object()) DUOGEN_FAIL(FormatError, "{}: a job must be a JSON object", source);
  WorldJob job;
  job.source = source;
  job.id = default_id;
  job.request = defaults.request;
  job.fps = defaults.fps;
  WorldRequest& r = job.request;
  bool has_prompt = false;
  for (const auto& [key, value] : v.items()) {
    if (key == "id") {
      job.id = text(value, source, key);
      if (!is_valid_job_id(job.id))
        field_error(source, key,
                    fmt::format("'{}' is not a valid id (letters, digits, . _ -)", job.id));
    } else if (key == "prompt") {
      r.prompt = text(value, source, key);
      has_prompt = true;
    } else if (key == "negative_prompt") {
      r.negative_prompt = text(value, source, key);
    } else if (key == "image") {
      job.image = input_path(value, base, source, key);
    } else if (key == "video") {
      job.video = input_path(value, base, source, key);
    } else if (key == "num_frames") {
      r.num_frames = integer(value, source, key, 1, 100000);
    } else if (key == "width") {
      r.width = integer(value, source, key, 16, 16384);
    } else if (key == "height") {
      r.height = integer(value, source, key, 16, 16384);
    } else if (key == "steps") {
      r.steps = static_cast<int>(integer(value, source, key, 1, 1000));
    } else if (key == "guidance") {
      r.guidance = number(value, source, key);
    } else if (key == "seed") {
      r.seed = static_cast<std::uint64_t>(integer(value, source, key, 0, INT64_MAX));
    } else if (key == "fps") {
      job.fps = number(value, source, key);
      if (!(*job.fps > 0 && *job.fps <= 1000)) field_error(source, key, "must be in (0, 1000]");
    } else if (key == "num_latent_conditional_frames") {
      r.num_latent_conditional_frames = static_cast<int>(integer(value, source, key, 1, 2));
    } else if (key == "conditional_frame_timestep") {
      r.conditional_frame_timestep = number(value, source, key);
    } else if (key == "max_sequence_length") {
      r.max_sequence_length = integer(value, source, key, 1, 1 << 20);
    } else {
      DUOGEN_FAIL(FormatError, "{}: unknown field '{}'", source, key);
    }
  }
  if (!has_prompt) DUOGEN_FAIL(FormatError, "{}: missing field 'prompt'", source);
  if (job.image && job.video)
    DUOGEN_FAIL(FormatError, "{}: give 'image' or 'video', not both", source);
  try {
    check_request(r);
  } catch (const InvalidArgument& e) {
    DUOGEN_FAIL(FormatError, "{}: {}", source, e.what());
  }
  return job;
}

}  // namespace

std::vector<WorldJob> read_world_jobs(const fs::path& file, const WorldJobDefaults& defaults) {
  std::ifstream in(file, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the job file", file.string());
  const fs::path base = fs::absolute(file).parent_path();
  const std::string stem = file.stem().string();
  const std::string prefix = is_valid_job_id(stem) ? stem : "job";
  auto parse_text = [&](const std::string& body, const std::string& source, const std::string& id) {
    json v;
    try {
      v = json::parse(body);
    } catch (const json::parse_error& e) {
      DUOGEN_FAIL(FormatError, "{}: not valid JSON: {}", source, e.what());
    }
    return parse(v, base, source, id, defaults);
  };
  std::vector<WorldJob> jobs;
  if (file.extension() == ".jsonl") {
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      jobs.push_back(parse_text(line, fmt::format("{}:{}", file.string(), n),
                                fmt::format("{}-{}", prefix, n)));
    }
  } else {
    std::stringstream body;
    body << in.rdbuf();
    jobs.push_back(parse_text(body.str(), file.string(), prefix));
  }
  DUOGEN_CHECK(!in.bad(), IoError, "{}: read failed", file.string());
  DUOGEN_CHECK(!jobs.empty(), FormatError, "{}: holds no jobs", file.string());
  std::set<std::string> seen;
  for (const auto& job : jobs) {
    DUOGEN_CHECK(seen.insert(job.id).second, FormatError, "{}: duplicate job id '{}'", job.source,
                 job.id);
  }
  return jobs;
}

}  // namespace duogen::pipeline::cosmos
