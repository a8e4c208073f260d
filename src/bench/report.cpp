#include "bench/report.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/html.h"
#include "io/atomic_file.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Relative URL of a file under the run directory (path segments are valid ids or file names).
std::string href(const std::string& id, const std::string& file) {
  return "samples/" + html_escape(id) + "/" + html_escape(file);
}

std::string score_badges(const std::vector<const JudgeScore*>& scores) {
  if (scores.empty()) return "";
  std::string out = "<div class=\"scores\">";
  for (const auto* s : scores) {
    out += fmt::format("<span class=\"score\" title=\"{}\">{} {}</span>", html_escape(s->raw),
                       html_escape(s->metric), s->score ? fmt::format("{:g}", *s->score) : "?");
  }
  return out + "</div>";
}

}  // namespace

Throughput compute_throughput(const std::vector<json>& records,
                              const std::vector<ManifestEntry>& latest) {
  Throughput t;
  for (const auto& e : latest) {
    t.total_s += e.seconds;
    if (e.ok) {
      ++t.samples;
    } else {
      ++t.failed;
    }
  }
  for (const auto& r : records) {
    for (const auto& out : r.at("outputs")) {
      t.generated_tokens += out.value("generated_tokens", std::int64_t{0});
      const auto& timings = out.value("timings_s", json::object());
      t.decode_s += timings.value("decode", 0.0);
      t.image_s += timings.value("image_total", 0.0);
      for (const auto& seg : out.at("segments")) t.images += seg.at("type") == "image" ? 1 : 0;
    }
  }
  return t;
}

std::string report_html(const fs::path& run_dir, const std::vector<JudgeScore>& scores) {
  const std::vector<json> records = read_records(run_dir);
  std::vector<ManifestEntry> latest;
  for (const auto& [id, e] : latest_entries(read_manifest(run_dir / "manifest.jsonl"))) {
    latest.push_back(e);
  }
  std::sort(latest.begin(), latest.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.index < b.index; });
  const Throughput t = compute_throughput(records, latest);
  std::map<std::string, std::vector<const JudgeScore*>> by_sample;
  for (const auto& s : scores) by_sample[s.sample_id].push_back(&s);

  std::string body = fmt::format(
      "<h1>Benchmark run: {}</h1>\n<table class=\"summary\">"
      "<tr><th>samples finished</th><td>{}</td></tr><tr><th>failed</th><td>{}</td></tr>"
      "<tr><th>text tokens/s</th><td>{:.2f} ({} tokens in {:.1f} s of decoding)</td></tr>"
      "<tr><th>seconds per image</th><td>{:.2f} ({} images)</td></tr>"
      "<tr><th>total time</th><td>{:.1f} s</td></tr></table>\n",
      html_escape(fs::absolute(run_dir).filename().string()), t.samples, t.failed, t.tokens_per_s(),
      t.generated_tokens, t.decode_s, t.seconds_per_image(), t.images, t.total_s);

  if (t.failed > 0) {
    body += "<h2>Failures</h2>\n<table class=\"failures\"><tr><th>sample</th><th>error</th></tr>";
    for (const auto& e : latest) {
      if (!e.ok) body += "<tr><td>" + html_escape(e.id) + "</td><td>" + html_escape(e.error) + "</td></tr>";
    }
    body += "</table>\n";
  }

  body += "<h2>Samples</h2>\n";
  for (const auto& r : records) {
    const std::string id = r.at("id").get<std::string>();
    body += "<div class=\"sample\" id=\"" + html_escape(id) + "\"><h3>" + html_escape(id) + "</h3>";
    body += "<div class=\"meta\">" + html_escape(r.at("suite").get<std::string>());
    for (const char* key : {"category", "subcategory"}) {
      const std::string v = r.value(key, std::string());
      if (!v.empty()) body += " · " + html_escape(v);
    }
    body += "</div>";
    const auto it = by_sample.find(id);
    body += score_badges(it == by_sample.end() ? std::vector<const JudgeScore*>{} : it->second);
    body += "<div class=\"user\"><p>" + html_escape(r.at("input").at("text").get<std::string>()) +
            "</p>";
    for (const auto& image : r.at("input").at("images")) {
      // Input images live outside the run; an absolute file URL works when opened locally.
      body += "<img class=\"input\" src=\"file://" + html_escape(image.get<std::string>()) + "\">";
    }
    body += "</div>";
    for (const auto& out : r.at("outputs")) {
      body += fmt::format("<div class=\"assistant\"><div class=\"seed\">seed {}</div>",
                          out.at("seed").get<std::uint64_t>());
      for (const auto& seg : out.at("segments")) {
        if (seg.at("type") == "text") {
          body += "<p>" + html_escape(seg.at("text").get<std::string>()) + "</p>";
        } else {
          body += "<img loading=\"lazy\" src=\"" + href(id, seg.at("path").get<std::string>()) +
                  "\">";
        }
      }
      body += "</div>";
    }
    body += "</div>\n";
  }
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>duogen benchmark report"
         "</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto;"
         "line-height:1.45}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:.3em .6em;text-align:left}.sample{border-top:2px solid #ddd;margin-top:1.5em}"
         ".meta,.seed{color:#777;font-size:.9em}.user{background:#eef3fb;padding:.5em 1em}"
         ".assistant{background:#f7f7ef;padding:.5em 1em;margin:.5em 0}p{white-space:pre-wrap}"
         "img{max-width:24em;display:block;margin:.4em 0}.score{display:inline-block;"
         "background:#e4efe4;border-radius:4px;padding:0 .4em;margin-right:.3em}</style>"
         "</head><body>\n" +
         body + "</body></html>\n";
}

fs::path write_report(const fs::path& run_dir) {
  const fs::path out = run_dir / "report.html";
  io::write_file_atomically(out, report_html(run_dir, read_scores(scores_file(run_dir))));
  return out;
}

}  // namespace duogen::bench
