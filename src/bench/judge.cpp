#include "bench/judge.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>

#include "bench/run.h"
#include "core/base64.h"
#include "core/check.h"
#include "io/atomic_file.h"
#include "io/json_config.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

pipeline::ContentPart text_part(std::string text) {
  pipeline::ContentPart p;
  p.text = std::move(text);
  return p;
}

pipeline::ContentPart image_part(const fs::path& path) {
  pipeline::ContentPart p;
  p.kind = pipeline::ContentPart::Kind::kImage;
  p.image_path = path;
  return p;
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open", file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string mime_of(std::string_view bytes) {
  if (bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n") return "image/png";
  if (bytes.substr(0, 3) == "\xFF\xD8\xFF") return "image/jpeg";
  return "image/png";
}

// The last in-range number captured by `pattern` (group 1) in `text`.
std::optional<double> last_match(const std::string& text, const std::regex& pattern, double lo,
                                 double hi) {
  std::optional<double> found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
       it != std::sregex_iterator(); ++it) {
    const double v = std::stod((*it)[1].str());
    if (v >= lo && v <= hi) found = v;
  }
  return found;
}

std::string words_to_digits(std::string text) {
  static const std::regex kWords(R"(\b(one|two|three|four|five|six|seven|eight|nine|ten)\b)",
                                 std::regex::icase);
  static const char* const kNames[] = {"one", "two",   "three", "four", "five",
                                       "six", "seven", "eight", "nine", "ten"};
  std::string out;
  auto last = text.cbegin();
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kWords);
       it != std::sregex_iterator(); ++it) {
    out.append(last, text.cbegin() + it->position());
    std::string w = it->str();
    for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; i < 10; ++i) {
      if (w == kNames[i]) out += std::to_string(i + 1);
    }
    last = text.cbegin() + it->position() + it->length();
  }
  out.append(last, text.cend());
  return out;
}

}  // namespace

Rubric read_rubric(const fs::path& file) {
  const io::JsonObject json = io::JsonObject::from_file(file);
  Rubric r;
  r.system = json.require<std::string>("system");
  r.answer_format = json.require<std::string>("answer_format");
  r.min_score = json.get<std::int64_t>("min_score", 1);
  r.max_score = json.get<std::int64_t>("max_score", 5);
  DUOGEN_CHECK(r.min_score < r.max_score, FormatError, "{}: min_score must be below max_score",
               file.string());
  const auto& metrics = json.json()["metrics"];
  DUOGEN_CHECK(metrics.is_array() && !metrics.empty(), FormatError,
               "{}: 'metrics' must be a non-empty list", file.string());
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const io::JsonObject m(metrics[i], file.string(), fmt::format("metrics[{}]", i));
    RubricMetric metric;
    metric.name = m.require<std::string>("name");
    metric.title = m.get<std::string>("title", metric.name);
    metric.prompt = m.require<std::string>("prompt");
    const auto level = m.require<std::string>("level");
    DUOGEN_CHECK(level == "sequence" || level == "image", FormatError,
                 "{}: metrics[{}].level must be sequence or image, got '{}'", file.string(), i,
                 level);
    metric.level = level == "sequence" ? MetricLevel::kSequence : MetricLevel::kImage;
    DUOGEN_CHECK(metric.name.find('/') == std::string::npos, FormatError,
                 "{}: metric name '{}' must not contain '/'", file.string(), metric.name);
    r.metrics.push_back(std::move(metric));
  }
  return r;
}

std::vector<JudgeRequest> judge_requests(const fs::path& run_dir, const Rubric& rubric) {
  std::vector<JudgeRequest> out;
  for (const json& record : read_records(run_dir)) {
    const std::string id = record.at("id").get<std::string>();
    if (record.at("outputs").empty()) continue;
    const fs::path dir = run_dir / "samples" / id;
    const auto& segments = record.at("outputs")[0].at("segments");
    // The conversation as the judge sees it: the request, then the response in order.
    std::vector<pipeline::ContentPart> conversation;
    conversation.push_back(text_part("[User request]\n" + record.at("input").at("text").get<std::string>()));
    for (const auto& image : record.at("input").at("images")) {
      conversation.push_back(image_part(image.get<std::string>()));
    }
    conversation.push_back(text_part("[Model response]"));
    std::vector<fs::path> images;
    std::vector<std::string> text_before;  // the text segment right before each image
    std::string last_text;
    for (const auto& seg : segments) {
      if (seg.at("type") == "text") {
        last_text = seg.at("text").get<std::string>();
        conversation.push_back(text_part(last_text));
      } else {
        images.push_back(dir / seg.at("path").get<std::string>());
        text_before.push_back(last_text);
        last_text.clear();
        conversation.push_back(text_part(fmt::format("[Image {}]", images.size())));
        conversation.push_back(image_part(images.back()));
      }
    }
    const auto make = [&](const RubricMetric& metric, std::int64_t n,
                          std::vector<pipeline::ContentPart> content) {
      JudgeRequest req;
      req.sample_id = id;
      req.metric = metric.name;
      req.image = n;
      req.custom_id = n == 0 ? fmt::format("{}/{}", id, metric.name)
                             : fmt::format("{}/{}/{}", id, metric.name, n);
      content.push_back(text_part(metric.prompt + "\n\n" + rubric.answer_format));
      req.messages.push_back({"system", {text_part(rubric.system)}});
      req.messages.push_back({"user", std::move(content)});
      out.push_back(std::move(req));
    };
    for (const auto& metric : rubric.metrics) {
      if (metric.level == MetricLevel::kSequence) make(metric, 0, conversation);
    }
    for (std::size_t n = 0; n < images.size(); ++n) {
      for (const auto& metric : rubric.metrics) {
        if (metric.level != MetricLevel::kImage) continue;
        std::vector<pipeline::ContentPart> content;
        content.push_back(text_part("[User request]\n" + record.at("input").at("text").get<std::string>()));
        if (!text_before[n].empty()) content.push_back(text_part("[Text before the image]\n" + text_before[n]));
        content.push_back(text_part("[Image]"));
        content.push_back(image_part(images[n]));
        make(metric, static_cast<std::int64_t>(n + 1), std::move(content));
      }
    }
  }
  return out;
}

std::optional<double> parse_score(std::string_view raw, double lo, double hi) {
  const std::string text = words_to_digits(std::string(raw));
  const auto icase = std::regex::icase | std::regex::ECMAScript;
  // A labelled score: "Score: 4", "**Rating**: [4]", "\"score\": 4", "Final score = 4/5".
  static const std::regex kLabelled(
      R"((?:score|rating|grade)["'*_\s\]]*[:=]["'*_\s\[(]*(\d+(?:\.\d+)?)(?![\d.]*\d))", icase);
  // A fraction of the scale: "4/5", "4 / 5", "4 out of 5".
  static const std::regex kFraction(R"((\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+))", icase);
  // A phrase: "I would rate it 4", "a score of 4", "score is 4", "I give this 4".
  static const std::regex kPhrase(
      R"((?:rate(?:d)?|give|giving|score(?:\s+(?:is|of))?|rating(?:\s+(?:is|of))?)(?:\s+(?:it|this|the\s+\w+|them|a|an))*\s+(\d+(?:\.\d+)?)(?!\d))",
      icase);
  if (auto v = last_match(text, kLabelled, lo, hi)) return v;
  {
    std::optional<double> found;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kFraction);
         it != std::sregex_iterator(); ++it) {
      const double v = std::stod((*it)[1].str());
      const double scale = std::stod((*it)[2].str());
      if (scale == hi && v >= lo && v <= hi) found = v;  // "4/10" is not on a 1-5 scale
    }
    if (found) return found;
  }
  if (auto v = last_match(text, kPhrase, lo, hi)) return v;
  static const std::regex kBare(R"(^\W*(\d+(?:\.\d+)?)\W*$)");
  std::smatch m;
  if (std::regex_match(text, m, kBare)) {
    const double v = std::stod(m[1].str());
    if (v >= lo && v <= hi) return v;
  }
  return std::nullopt;
}

json score_json(const JudgeScore& s) {
  json v = {{"custom_id", s.custom_id}, {"id", s.sample_id}, {"metric", s.metric},
            {"image", s.image}};
  v["score"] = s.score ? json(*s.score) : json(nullptr);
  v["raw"] = s.raw;
  if (!s.error.empty()) v["error"] = s.error;
  return v;
}

JudgeScore split_custom_id(const std::string& custom_id) {
  JudgeScore s;
  s.custom_id = custom_id;
  const auto a = custom_id.find('/');
  DUOGEN_CHECK(a != std::string::npos && a > 0, FormatError,
               "custom_id '{}' is not <sample id>/<metric>[/<image>]", custom_id);
  s.sample_id = custom_id.substr(0, a);
  const auto b = custom_id.find('/', a + 1);
  s.metric = custom_id.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (b != std::string::npos) {
    const std::string n = custom_id.substr(b + 1);
    DUOGEN_CHECK(!n.empty() && n.find_first_not_of("0123456789") == std::string::npos,
                 FormatError, "custom_id '{}': the image number must be an integer", custom_id);
    s.image = std::stoll(n);
  }
  DUOGEN_CHECK(!s.metric.empty(), FormatError, "custom_id '{}' has no metric", custom_id);
  return s;
}

JudgeScore score_from_json(const json& line, const std::string& where) {
  DUOGEN_CHECK(line.is_object() && line.contains("custom_id") && line["custom_id"].is_string(),
               FormatError, "{}: a score line needs 'custom_id'", where);
  JudgeScore s = split_custom_id(line["custom_id"].get<std::string>());
  if (line.contains("score") && line["score"].is_number()) s.score = line["score"].get<double>();
  s.raw = line.value("raw", std::string());
  s.error = line.value("error", std::string());
  return s;
}

json batch_request_line(const JudgeRequest& request, const BatchOptions& options) {
  json messages = json::array();
  for (const auto& m : request.messages) {
    json content = json::array();
    for (const auto& part : m.content) {
      if (part.kind == pipeline::ContentPart::Kind::kText) {
        content.push_back({{"type", "text"}, {"text", part.text}});
      } else {
        const std::string bytes =
            part.image_bytes.empty() ? read_all(part.image_path) : part.image_bytes;
        content.push_back(
            {{"type", "image_url"},
             {"image_url", {{"url", "data:" + mime_of(bytes) + ";base64," + base64_encode(bytes)}}}});
      }
    }
    // System prompts are plain strings, as every OpenAI-compatible server accepts them.
    if (m.role == "system" && content.size() == 1) {
      messages.push_back({{"role", m.role}, {"content", content[0]["text"]}});
    } else {
      messages.push_back({{"role", m.role}, {"content", content}});
    }
  }
  return {{"custom_id", request.custom_id},
          {"method", "POST"},
          {"url", "/v1/chat/completions"},
          {"body",
           {{"model", options.model},
            {"messages", messages},
            {"max_tokens", options.max_tokens},
            {"temperature", 0}}}};
}

std::size_t export_batch(const fs::path& run_dir, const Rubric& rubric, const fs::path& out,
                         const BatchOptions& options) {
  const auto requests = judge_requests(run_dir, rubric);
  io::AtomicFileWriter writer(out);
  for (const auto& r : requests) writer.write(dump_json(batch_request_line(r, options)) + "\n");
  writer.commit();
  return requests.size();
}

std::vector<JudgeScore> import_batch(const fs::path& batch_output, const Rubric& rubric) {
  std::istringstream in(read_all(batch_output));
  std::vector<JudgeScore> out;
  std::string text;
  for (std::int64_t n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", batch_output.string(), n);
    const json line = json::parse(text, nullptr, false);
    DUOGEN_CHECK(!line.is_discarded() && line.is_object(), FormatError,
                 "{}: not a JSON object", where);
    DUOGEN_CHECK(line.contains("custom_id") && line["custom_id"].is_string(), FormatError,
                 "{}: missing 'custom_id'", where);
    JudgeScore s = split_custom_id(line["custom_id"].get<std::string>());
    if (line.contains("error") && !line["error"].is_null()) {
      s.error = line["error"].is_object() ? line["error"].value("message", line["error"].dump())
                                          : line["error"].dump();
    }
    const json* body = nullptr;
    if (line.contains("response") && line["response"].is_object()) {
      const auto& resp = line["response"];
      const auto status = resp.value("status_code", 200);
      if (status != 200 && s.error.empty()) s.error = fmt::format("HTTP status {}", status);
      if (resp.contains("body")) body = &resp["body"];
    }
    if (body != nullptr && body->contains("choices") && !(*body)["choices"].empty()) {
      const auto& content = (*body)["choices"][0].value("message", json::object()).value("content", json());
      if (content.is_string()) {
        s.raw = content.get<std::string>();
      } else if (content.is_array()) {  // content given as parts
        for (const auto& part : content) s.raw += part.value("text", std::string());
      }
    } else if (s.error.empty()) {
      s.error = "no response body";
    }
    s.score = parse_score(s.raw, static_cast<double>(rubric.min_score),
                          static_cast<double>(rubric.max_score));
    if (!s.score && s.error.empty()) s.error = "no score found in the answer";
    out.push_back(std::move(s));
  }
  return out;
}

fs::path scores_file(const fs::path& run_dir) { return run_dir / "judge" / "scores.jsonl"; }

void write_scores(const fs::path& file, const std::vector<JudgeScore>& scores) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  std::string text;
  for (const auto& s : scores) text += dump_json(score_json(s)) + "\n";
  io::write_file_atomically(file, text);
}

std::vector<JudgeScore> read_scores(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  const std::string all = read_all(file);
  std::map<std::string, std::size_t> position;
  std::vector<JudgeScore> out;
  std::size_t pos = 0;
  for (std::int64_t n = 1; pos < all.size(); ++n) {
    const auto end = all.find('\n', pos);
    const std::string line = all.substr(pos, end == std::string::npos ? end : end - pos);
    const json v = json::parse(line, nullptr, false);
    if (end == std::string::npos || v.is_discarded()) {
      DUOGEN_CHECK(end == std::string::npos || end + 1 >= all.size(), FormatError,
                   "{}:{}: damaged score line", file.string(), n);
      break;  // a line cut by a kill
    }
    JudgeScore s = score_from_json(v, fmt::format("{}:{}", file.string(), n));
    const auto it = position.find(s.custom_id);
    if (it == position.end()) {
      position[s.custom_id] = out.size();
      out.push_back(std::move(s));
    } else {
      out[it->second] = std::move(s);
    }
    pos = end + 1;
  }
  return out;
}

std::string generate_text(pipeline::ConversationModel& mllm,
                          const std::vector<pipeline::Message>& messages,
                          const LocalJudgeSettings& settings) {
  mllm.start(messages, settings.seed);
  pipeline::TextSampling sampling = settings.sampling;
  if (settings.bov_token_id >= 0) sampling.logit_bias.emplace_back(settings.bov_token_id, -INFINITY);
  std::string text;
  for (std::int64_t i = 0; i < settings.max_new_tokens; ++i) {
    const std::int64_t token = mllm.sample_next(sampling);
    if (settings.stop_token_ids.count(token) != 0) break;
    text += mllm.token_text(token);
  }
  return text + mllm.flush_text();
}

std::vector<JudgeScore> judge_with_model(const fs::path& run_dir, const Rubric& rubric,
                                         pipeline::ConversationModel& mllm,
                                         const LocalJudgeSettings& settings) {
  const fs::path file = scores_file(run_dir);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  // Keep only complete lines (a kill may have cut the last one) before appending.
  std::vector<JudgeScore> done = read_scores(file);
  write_scores(file, done);
  std::set<std::string> have;
  for (const auto& s : done) have.insert(s.custom_id);
  for (const auto& req : judge_requests(run_dir, rubric)) {
    if (have.count(req.custom_id) != 0) continue;
    JudgeScore s = split_custom_id(req.custom_id);
    try {
      s.raw = generate_text(mllm, req.messages, settings);
      s.score = parse_score(s.raw, static_cast<double>(rubric.min_score),
                            static_cast<double>(rubric.max_score));
      if (!s.score) s.error = "no score found in the answer";
    } catch (const std::exception& e) {
      s.error = e.what();
    }
    // Appended and fsync'd one by one, like the run manifest.
    append_line_synced(file, dump_json(score_json(s)) + "\n");
    done.push_back(std::move(s));
  }
  return done;
}

}  // namespace duogen::bench
