#include "bench/aggregate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Mean {
  double sum = 0;
  std::int64_t n = 0;
  void add(double v) {
    sum += v;
    ++n;
  }
  std::optional<double> value() const {
    return n > 0 ? std::optional<double>(sum / static_cast<double>(n)) : std::nullopt;
  }
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string format_number(std::optional<double> value, int digits) {
  return value ? fmt::format("{:.{}f}", *value, digits) : std::string("-");
}

std::string to_markdown(const Table& t) {
  std::string out = "|";
  for (const auto& c : t.columns) out += " " + c + " |";
  out += "\n|";
  for (std::size_t i = 0; i < t.columns.size(); ++i) out += i == 0 ? "---|" : "---:|";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const auto& cell : row) out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

std::string to_csv(const Table& t) {
  std::string out;
  const auto add_row = [&out](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += csv_field(cells[i]);
    }
    out += '\n';
  };
  add_row(t.columns);
  for (const auto& row : t.rows) add_row(row);
  return out;
}

Table judge_table(const std::vector<json>& records, const std::vector<JudgeScore>& scores,
                  const Rubric& rubric) {
  std::map<std::string, std::string> suite_of;
  std::vector<std::string> suites;
  for (const auto& r : records) {
    const std::string suite = r.at("suite").get<std::string>();
    suite_of[r.at("id").get<std::string>()] = suite;
    if (std::find(suites.begin(), suites.end(), suite) == suites.end()) suites.push_back(suite);
  }
  // sample -> metric -> mean over its scores (one for sequence metrics, one per image).
  std::map<std::string, std::map<std::string, Mean>> per_sample;
  std::map<std::string, std::int64_t> unscored;
  for (const auto& s : scores) {
    const auto it = suite_of.find(s.sample_id);
    if (it == suite_of.end()) continue;  // a score for a sample not in this run
    if (!s.score) {
      ++unscored[it->second];
      continue;
    }
    per_sample[s.sample_id][s.metric].add(*s.score);
  }
  Table t;
  t.columns.push_back("suite");
  for (const auto& m : rubric.metrics) t.columns.push_back(m.name);
  t.columns.push_back("samples");
  t.columns.push_back("unscored");
  for (const auto& suite : suites) {
    std::vector<std::string> row = {suite};
    std::int64_t samples = 0;
    for (const auto& [id, s] : suite_of) samples += s == suite ? 1 : 0;
    for (const auto& m : rubric.metrics) {
      Mean mean;
      for (const auto& [id, metrics] : per_sample) {
        if (suite_of[id] != suite) continue;
        const auto it = metrics.find(m.name);
        if (it != metrics.end() && it->second.n > 0) mean.add(*it->second.value());
      }
      row.push_back(format_number(mean.value(), 2));
    }
    row.push_back(std::to_string(samples));
    row.push_back(std::to_string(unscored[suite]));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table gedit_table(const std::vector<EditScore>& scores, const std::string& language) {
  std::vector<std::string> categories;
  std::map<std::string, std::array<Mean, 3>> by_category;
  std::array<Mean, 3> overall;
  for (const auto& s : scores) {
    if (s.language != language) continue;
    if (!by_category.count(s.category)) categories.push_back(s.category);
    const double o = std::sqrt(s.sc * s.pq);  // GEdit's per-sample overall score
    for (auto* means : {&by_category[s.category], &overall}) {
      (*means)[0].add(s.sc);
      (*means)[1].add(s.pq);
      (*means)[2].add(o);
    }
  }
  Table t;
  t.columns = {"task_type", "SC", "PQ", "O", "samples"};
  const auto row = [](const std::string& name, const std::array<Mean, 3>& m) {
    return std::vector<std::string>{name, format_number(m[0].value()), format_number(m[1].value()),
                                    format_number(m[2].value()), std::to_string(m[0].n)};
  };
  for (const auto& c : categories) t.rows.push_back(row(c, by_category[c]));
  t.rows.push_back(row("overall", overall));
  return t;
}

Table imgedit_table(const std::vector<EditScore>& scores) {
  std::vector<std::string> types;
  std::map<std::string, Mean> by_type;
  Mean samples;
  for (const auto& s : scores) {
    if (!by_type.count(s.category)) types.push_back(s.category);
    by_type[s.category].add(s.sc);
    samples.add(s.sc);
  }
  Table t;
  t.columns = {"edit_type", "score", "samples"};
  Mean of_types;
  for (const auto& type : types) {
    const Mean& m = by_type[type];
    t.rows.push_back({type, format_number(m.value(), 2), std::to_string(m.n)});
    of_types.add(*m.value());
  }
  t.rows.push_back({"overall (types)", format_number(of_types.value(), 2),
                    std::to_string(samples.n)});
  t.rows.push_back({"overall (samples)", format_number(samples.value(), 2),
                    std::to_string(samples.n)});
  return t;
}

std::vector<EditScore> read_gedit_scores(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the GEdit scores", file.string());
  std::vector<EditScore> out;
  std::string text;
  for (std::int64_t n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", file.string(), n);
    const json v = json::parse(text, nullptr, false);
    DUOGEN_CHECK(!v.is_discarded() && v.is_object(), FormatError, "{}: not a JSON object",
                 where);
    const io::JsonObject o(v, where);
    EditScore s;
    s.key = o.require<std::string>("key");
    s.category = o.require<std::string>("task_type");
    s.language = o.get<std::string>("instruction_language", "en");
    s.sc = o.require<double>("semantics_score");
    s.pq = o.require<double>("quality_score");
    DUOGEN_CHECK(s.sc >= 0 && s.pq >= 0, FormatError, "{}: scores must be >= 0", where);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<EditScore> read_imgedit_scores(const fs::path& scores, const fs::path& edit_list) {
  const json list = io::read_json_file(edit_list);
  const json values = io::read_json_file(scores);
  DUOGEN_CHECK(values.is_object(), FormatError, "{}: ImgEdit scores must be {{key: score}}",
               scores.string());
  std::vector<EditScore> out;
  for (const auto& [key, v] : values.items()) {
    DUOGEN_CHECK(list.contains(key) && list[key].contains("edit_type"), FormatError,
                 "{}: key '{}' is not in the edit list {}", scores.string(), key,
                 edit_list.string());
    EditScore s;
    s.key = key;
    s.category = list[key]["edit_type"].get<std::string>();
    if (v.is_number()) {
      s.sc = v.get<double>();
    } else {
      DUOGEN_CHECK(v.is_string(), FormatError, "{}: '{}' must be a number or the judge's text",
                   scores.string(), key);
      const auto parsed = parse_score(v.get<std::string>(), 1, 5);
      DUOGEN_CHECK(parsed.has_value(), FormatError, "{}: '{}': no 1-5 score in \"{}\"",
                   scores.string(), key, v.get<std::string>());
      s.sc = *parsed;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace duogen::bench
