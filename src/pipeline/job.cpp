#include "pipeline/job.h"

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/check.h"

namespace duogen::pipeline {
namespace {

using nlohmann::json;

// Formats errors as "<source> (job '<id>'): '<field>': <problem>".
class FieldErrors {
 public:
  FieldErrors(std::string source, std::string id) : source_(std::move(source)), id_(std::move(id)) {}
  void set_id(std::string id) { id_ = std::move(id); }

  template <typename... Args>
  [[noreturn]] void fail(const std::string& field, fmt::format_string<Args...> format,
                         Args&&... args) const {
    throw FieldError(field, fmt::format("{} (job '{}'): '{}': {}", source_, id_, field,
                                        fmt::format(format, std::forward<Args>(args)...)));
  }

 private:
  std::string source_;
  std::string id_;
};

std::string type_name(const json& v) { return v.type_name(); }

std::string require_string(const json& v, const std::string& field, const FieldErrors& err) {
  if (!v.is_string()) err.fail(field, "must be a string, got {}", type_name(v));
  return v.get<std::string>();
}

std::int64_t require_int(const json& v, const std::string& field, const FieldErrors& err,
                         std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer()) err.fail(field, "must be an integer, got {}", v.dump());
  const bool is_unsigned = v.is_number_unsigned();
  if (is_unsigned && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
    err.fail(field, "must be in [{}, {}], got {}", lo, hi, v.dump());
  }
  const std::int64_t x = v.get<std::int64_t>();
  if (x < lo || x > hi) err.fail(field, "must be in [{}, {}], got {}", lo, hi, x);
  return x;
}

double require_number(const json& v, const std::string& field, const FieldErrors& err, double lo,
                      double hi, bool lo_open = false) {
  if (!v.is_number()) err.fail(field, "must be a number, got {}", v.dump());
  const double x = v.get<double>();
  if (!(lo_open ? x > lo : x >= lo) || !(x <= hi)) {
    err.fail(field, "must be in {}{}, {}], got {}", lo_open ? "(" : "[", lo, hi, x);
  }
  return x;
}

ContentPart parse_image_url(const std::string& url, const std::filesystem::path& base_dir,
                            const std::string& field, const FieldErrors& err) {
  ContentPart part;
  part.kind = ContentPart::Kind::kImage;
  if (url.rfind("data:", 0) == 0) {
    const auto comma = url.find(',');
    if (comma == std::string::npos || url.compare(comma - 7, 7, ";base64") != 0) {
      err.fail(field, "only base64 data: URLs are supported");
    }
    auto bytes = base64_decode(std::string_view(url).substr(comma + 1));
    if (!bytes || bytes->empty()) err.fail(field, "the data: URL is not valid base64");
    part.image_bytes = std::move(*bytes);
    return part;
  }
  std::string path = url;
  if (path.rfind("file://", 0) == 0) path = path.substr(7);
  if (path.find("://") != std::string::npos) {
    err.fail(field, "'{}' is a remote URL; give a local path (duogen does not download)", url);
  }
  if (path.empty()) err.fail(field, "empty image path");
  std::filesystem::path p(path);
  if (p.is_relative()) p = base_dir / p;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) err.fail(field, "image file not found: {}", p.string());
  part.image_path = p.lexically_normal();
  return part;
}

ContentPart parse_part(const json& v, const std::filesystem::path& base_dir,
                       const std::string& field, const FieldErrors& err) {
  if (!v.is_object()) err.fail(field, "a content part must be an object, got {}", type_name(v));
  if (!v.contains("type")) err.fail(field, "missing 'type' (text, image or image_url)");
  const std::string type = require_string(v["type"], field + ".type", err);
  const auto only = [&](std::initializer_list<const char*> keys) {
    for (const auto& [key, value] : v.items()) {
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) err.fail(field + "." + key, "unknown key for a '{}' part", type);
    }
  };
  if (type == "text") {
    only({"type", "text"});
    if (!v.contains("text")) err.fail(field, "a text part needs 'text'");
    return {ContentPart::Kind::kText, require_string(v["text"], field + ".text", err), {}, {}};
  }
  if (type == "image") {
    only({"type", "path"});
    if (!v.contains("path")) err.fail(field, "an image part needs 'path'");
    return parse_image_url(require_string(v["path"], field + ".path", err), base_dir,
                           field + ".path", err);
  }
  if (type == "image_url") {
    only({"type", "image_url"});
    const json* url = nullptr;
    if (v.contains("image_url")) {
      const json& iu = v["image_url"];
      url = iu.is_object() && iu.contains("url") ? &iu["url"] : iu.is_string() ? &iu : nullptr;
    }
    if (url == nullptr) err.fail(field, "an image_url part needs 'image_url': {{\"url\": ...}}");
    return parse_image_url(require_string(*url, field + ".image_url.url", err), base_dir,
                           field + ".image_url.url", err);
  }
  err.fail(field + ".type", "unknown content type '{}' (text, image or image_url)", type);
}

Message parse_message(const json& v, const std::filesystem::path& base_dir,
                      const std::string& field, const FieldErrors& err) {
  if (!v.is_object()) err.fail(field, "a message must be an object, got {}", type_name(v));
  for (const auto& [key, value] : v.items()) {
    if (key != "role" && key != "content") err.fail(field + "." + key, "unknown message key");
  }
  if (!v.contains("role")) err.fail(field, "missing 'role'");
  Message m;
  m.role = require_string(v["role"], field + ".role", err);
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    err.fail(field + ".role", "must be system, user or assistant, got '{}'", m.role);
  }
  if (!v.contains("content")) err.fail(field, "missing 'content'");
  const json& content = v["content"];
  if (content.is_string()) {
    m.content.push_back({ContentPart::Kind::kText, content.get<std::string>(), {}, {}});
  } else if (content.is_array()) {
    for (std::size_t i = 0; i < content.size(); ++i) {
      m.content.push_back(
          parse_part(content[i], base_dir, fmt::format("{}.content[{}]", field, i), err));
    }
  } else {
    err.fail(field + ".content", "must be a string or a list of parts, got {}", type_name(content));
  }
  if (m.content.empty()) err.fail(field + ".content", "is empty");
  for (const auto& part : m.content) {
    if (part.kind == ContentPart::Kind::kImage && m.role == "system") {
      err.fail(field + ".content", "a system message cannot hold images");
    }
  }
  return m;
}

constexpr std::int64_t kMaxSide = 8192;  // pixels; a 16-multiple, far beyond any trained size

void parse_option(const std::string& key, const json& v, JobOptions& o, const FieldErrors& err) {
  constexpr auto kIntMax = std::numeric_limits<std::int64_t>::max();
  if (key == "seed") {
    o.seed = static_cast<std::uint64_t>(require_int(v, key, err, 0, kIntMax));
  } else if (key == "steps") {
    o.steps = require_int(v, key, err, 1, 1000);
  } else if (key == "guidance") {
    o.guidance = require_number(v, key, err, 0.0, 100.0);
  } else if (key == "width" || key == "height") {
    const std::int64_t side = require_int(v, key, err, 16, kMaxSide);
    if (side % 16 != 0) err.fail(key, "must be a multiple of 16 (VAE 8 x DiT patch 2), got {}", side);
    (key == "width" ? o.width : o.height) = side;
  } else if (key == "max_new_tokens") {
    o.max_new_tokens = require_int(v, key, err, 1, 1 << 20);
  } else if (key == "max_images") {
    o.max_images = require_int(v, key, err, 0, 64);
  } else if (key == "temperature") {
    o.temperature = require_number(v, key, err, 0.0, 100.0);
  } else if (key == "top_k") {
    o.top_k = require_int(v, key, err, 0, kIntMax);
  } else if (key == "top_p") {
    o.top_p = require_number(v, key, err, 0.0, 1.0, /*lo_open=*/true);
  } else if (key == "min_p") {
    o.min_p = require_number(v, key, err, 0.0, 1.0);
  } else if (key == "repetition_penalty") {
    o.repetition_penalty = require_number(v, key, err, 0.0, 100.0, /*lo_open=*/true);
  } else if (key == "solver") {
    const std::string s = require_string(v, key, err);
    if (s != "euler" && s != "unipc") err.fail(key, "must be euler or unipc, got '{}'", s);
    o.solver = s;
  } else if (key == "schedule") {
    const std::string s = require_string(v, key, err);
    if (s != "linear_shift" && s != "karras") {
      err.fail(key, "must be linear_shift or karras, got '{}'", s);
    }
    o.schedule = s;
  } else if (key == "logit_bias") {
    if (!v.is_object()) err.fail(key, "must be an object {{token: bias}}, got {}", type_name(v));
    for (const auto& [token, bias] : v.items()) {
      if (token.empty()) err.fail(key, "empty token");
      o.logit_bias.emplace_back(token, require_number(bias, key + "." + token, err, -1e9, 1e9));
    }
  } else {
    err.fail(key, "unknown option (known: id, messages, seed, steps, guidance, width, height, "
                  "max_new_tokens, max_images, temperature, top_k, top_p, min_p, "
                  "repetition_penalty, solver, schedule, logit_bias)");
  }
}

Job parse_job_value(const json& v, const std::filesystem::path& base_dir, const std::string& source,
                    const std::string& default_id) {
  FieldErrors err(source, default_id);
  if (!v.is_object()) {
    throw FormatError(fmt::format("{}: a job must be a JSON object, got {}", source, type_name(v)));
  }
  Job job;
  job.source = source;
  job.id = default_id;
  if (v.contains("id")) {
    job.id = v["id"].is_number_integer() ? std::to_string(v["id"].get<std::int64_t>())
                                         : require_string(v["id"], "id", err);
  }
  err.set_id(job.id);
  if (!is_valid_job_id(job.id)) {
    err.fail("id", "'{}' is not a usable job id ([A-Za-z0-9._-], not starting with '.', at most "
                   "128 characters): it names the output directory", job.id);
  }
  if (!v.contains("messages")) err.fail("messages", "missing");
  const json& messages = v["messages"];
  if (!messages.is_array() || messages.empty()) {
    err.fail("messages", "must be a non-empty list of messages");
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    job.messages.push_back(
        parse_message(messages[i], base_dir, fmt::format("messages[{}]", i), err));
  }
  if (job.messages.back().role != "user") {
    err.fail(fmt::format("messages[{}]", messages.size() - 1),
             "the last message must be the user's turn to answer");
  }
  for (const auto& [key, value] : v.items()) {
    if (key == "id" || key == "messages") continue;
    parse_option(key, value, job.options, err);
  }
  return job;
}

}  // namespace
}  // namespace duogen::pipeline

namespace duogen {

using json = nlohmann::json;
using pipeline::FieldErrors;
using pipeline::parse_job_value;
using pipeline::parse_option;

bool is_valid_job_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Job parse_job(const std::string& json_text, const std::filesystem::path& base_dir,
              const std::string& source, const std::string& default_id) {
  json v;
  try {
    v = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  return parse_job_value(v, base_dir, source, default_id);
}

std::vector<Job> read_job_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the job file", path.string());
  const std::filesystem::path base_dir = std::filesystem::absolute(path).parent_path();
  const std::string stem = path.stem().string();
  const bool lines = path.extension() == ".jsonl";
  std::vector<Job> jobs;
  if (lines) {
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      jobs.push_back(parse_job(line, base_dir, fmt::format("{}:{}", path.string(), n),
                               fmt::format("{}-{}", is_valid_job_id(stem) ? stem : "job", n)));
    }
  } else {
    std::stringstream text;
    text << in.rdbuf();
    jobs.push_back(parse_job(text.str(), base_dir, path.string(),
                             is_valid_job_id(stem) ? stem : "job"));
  }
  DUOGEN_CHECK(!in.bad(), IoError, "{}: read failed", path.string());
  DUOGEN_CHECK(!jobs.empty(), FormatError, "{}: holds no jobs", path.string());
  std::set<std::string> seen;
  for (const auto& job : jobs) {
    DUOGEN_CHECK(seen.insert(job.id).second, FormatError, "{}: duplicate job id '{}'", job.source,
                 job.id);
  }
  return jobs;
}

void check_options(const JobOptions& o, const std::string& source) {
  // The options as the JSON a job file would hold, read back by the same field checks.
  json v = json::object();
  const auto put = [&](const char* key, const auto& field) {
    if (field) v[key] = *field;
  };
  put("seed", o.seed);
  put("steps", o.steps);
  put("guidance", o.guidance);
  put("width", o.width);
  put("height", o.height);
  put("max_new_tokens", o.max_new_tokens);
  put("max_images", o.max_images);
  put("temperature", o.temperature);
  put("top_k", o.top_k);
  put("top_p", o.top_p);
  put("min_p", o.min_p);
  put("repetition_penalty", o.repetition_penalty);
  put("solver", o.solver);
  put("schedule", o.schedule);
  if (!o.logit_bias.empty()) {
    json bias = json::object();
    for (const auto& [token, value] : o.logit_bias) bias[token] = value;
    v["logit_bias"] = bias;
  }
  const FieldErrors err(source, "options");
  JobOptions parsed;
  for (const auto& [key, value] : v.items()) parse_option(key, value, parsed, err);
}

}  // namespace duogen

namespace duogen::pipeline {

JobOptions parse_options_object(const json& object, const std::string& source) {
  DUOGEN_CHECK(object.is_object(), FormatError, "{}: options must be a JSON object, got {}",
               source, object.type_name());
  const FieldErrors err(source, "defaults");
  JobOptions options;
  for (const auto& [key, value] : object.items()) parse_option(key, value, options, err);
  return options;
}

JobOptions merge_options(const JobOptions& base, const JobOptions& overrides) {
  JobOptions out = base;
  const auto take = [](auto& dst, const auto& src) {
    if (src) dst = src;
  };
  take(out.seed, overrides.seed);
  take(out.steps, overrides.steps);
  take(out.guidance, overrides.guidance);
  take(out.width, overrides.width);
  take(out.height, overrides.height);
  take(out.max_new_tokens, overrides.max_new_tokens);
  take(out.max_images, overrides.max_images);
  take(out.temperature, overrides.temperature);
  take(out.top_k, overrides.top_k);
  take(out.top_p, overrides.top_p);
  take(out.min_p, overrides.min_p);
  take(out.repetition_penalty, overrides.repetition_penalty);
  take(out.solver, overrides.solver);
  take(out.schedule, overrides.schedule);
  out.logit_bias.insert(out.logit_bias.end(), overrides.logit_bias.begin(),
                        overrides.logit_bias.end());
  return out;
}

}  // namespace duogen::pipeline
