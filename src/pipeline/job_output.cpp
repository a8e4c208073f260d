#include "pipeline/job_output.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "core/base64.h"
#include "core/check.h"
#include "core/html.h"
#include "io/atomic_file.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;

std::string mime_for(const fs::path& path, std::string_view bytes) {
  if (bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n") return "image/png";
  if (bytes.substr(0, 3) == "\xFF\xD8\xFF") return "image/jpeg";
  if (bytes.substr(0, 3) == "GIF") return "image/gif";
  if (bytes.substr(0, 2) == "BM") return "image/bmp";
  return path.extension() == ".png" ? "image/png" : "application/octet-stream";
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the input image", path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string data_url(const ContentPart& part) {
  const std::string bytes = part.image_bytes.empty() ? read_bytes(part.image_path) : part.image_bytes;
  return "data:" + mime_for(part.image_path, bytes) + ";base64," + base64_encode(bytes);
}

std::string input_image_label(const ContentPart& part) {
  return part.image_path.empty() ? std::string("(inline image)") : part.image_path.string();
}

nlohmann::json params_json(const io::PngText& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : params) out[k] = v;
  return out;
}

}  // namespace

std::string image_file_name(std::size_t n) { return "image-" + std::to_string(n) + ".png"; }

bool job_finished(const fs::path& out_dir, const std::string& id) {
  std::error_code ec;
  return fs::is_regular_file(out_dir / id / "result.json", ec);
}

nlohmann::json result_json(const JobResult& result) {
  nlohmann::json prompt = nlohmann::json::array();
  for (const auto& m : result.job.messages) {
    nlohmann::json content = nlohmann::json::array();
    for (const auto& part : m.content) {
      if (part.kind == ContentPart::Kind::kText) {
        content.push_back({{"type", "text"}, {"text", part.text}});
      } else {
        content.push_back({{"type", "image"}, {"path", input_image_label(part)}});
      }
    }
    prompt.push_back({{"role", m.role}, {"content", content}});
  }
  nlohmann::json output = nlohmann::json::array();
  std::size_t images = 0;
  for (const auto& s : result.segments) {
    if (s.kind == OutputSegment::Kind::kText) {
      output.push_back({{"type", "text"}, {"text", s.text}});
    } else {
      output.push_back({{"type", "image"},
                        {"path", image_file_name(++images)},
                        {"width", s.image.size(1)},
                        {"height", s.image.size(0)},
                        {"params", params_json(s.image_params)}});
    }
  }
  nlohmann::json timings = nlohmann::json::object();
  for (const auto& [stage, seconds] : result.timings_s) timings[stage] = seconds;
  return {{"id", result.job.id},
          {"source", result.job.source},
          {"prompt", prompt},
          {"output", output},
          {"prompt_tokens", result.prompt_tokens},
          {"generated_tokens", result.generated_tokens},
          {"images", images},
          {"seed", result.seed},
          {"stop_reason", result.stop_reason},
          {"settings", result.settings},
          {"timings_s", timings}};
}

std::string result_markdown(const JobResult& result) {
  std::string md = "# " + result.job.id + "\n\n";
  for (const auto& m : result.job.messages) {
    md += "**" + m.role + ":**\n\n";
    for (const auto& part : m.content) {
      md += part.kind == ContentPart::Kind::kText
                ? part.text + "\n\n"
                : "![input image](" + input_image_label(part) + ")\n\n";
    }
  }
  md += "**assistant:**\n\n";
  std::size_t images = 0;
  for (const auto& s : result.segments) {
    if (s.kind == OutputSegment::Kind::kText) {
      md += s.text + "\n\n";
    } else {
      ++images;
      md += "![image " + std::to_string(images) + "](" + image_file_name(images) + ")\n\n";
    }
  }
  md += fmt::format("---\nseed {} · {} prompt tokens · {} generated tokens · {} images · stop: {}\n",
                    result.seed, result.prompt_tokens, result.generated_tokens, images,
                    result.stop_reason);
  return md;
}

std::string result_html(const JobResult& result) {
  std::string body;
  for (const auto& m : result.job.messages) {
    body += "<div class=\"msg " + html_escape(m.role) + "\"><div class=\"role\">" +
            html_escape(m.role) + "</div>";
    for (const auto& part : m.content) {
      body += part.kind == ContentPart::Kind::kText
                  ? "<p>" + html_escape(part.text) + "</p>"
                  : "<img alt=\"" + html_escape(input_image_label(part)) + "\" src=\"" +
                        data_url(part) + "\">";
    }
    body += "</div>\n";
  }
  body += "<div class=\"msg assistant\"><div class=\"role\">assistant</div>";
  std::size_t images = 0;
  for (const auto& s : result.segments) {
    if (s.kind == OutputSegment::Kind::kText) {
      body += "<p>" + html_escape(s.text) + "</p>";
    } else {
      ++images;
      body += "<img alt=\"" + image_file_name(images) + "\" src=\"data:image/png;base64," +
              base64_encode(io::encode_png(s.image)) + "\">";
    }
  }
  body += "</div>\n";
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
         html_escape(result.job.id) +
         "</title><style>body{font-family:sans-serif;max-width:52em;margin:2em auto;"
         "line-height:1.5}.msg{margin:1em 0;padding:.8em 1em;border-radius:8px}"
         ".user{background:#eef3fb}.system{background:#f4f4f4}.assistant{background:#f7f7ef}"
         ".role{font-weight:bold;text-transform:capitalize}p{white-space:pre-wrap}"
         "img{max-width:100%;display:block;margin:.6em 0;border-radius:4px}"
         "footer{color:#777;font-size:.9em}</style></head><body>\n<h1>" +
         html_escape(result.job.id) + "</h1>\n" + body +
         fmt::format("<footer>seed {} · {} prompt tokens · {} generated tokens · {} images · "
                     "stop: {}</footer>\n</body></html>\n",
                     result.seed, result.prompt_tokens, result.generated_tokens, images,
                     html_escape(result.stop_reason));
}

fs::path write_job_outputs(const fs::path& out_dir, const JobResult& result) {
  DUOGEN_CHECK(is_valid_job_id(result.job.id), InvalidArgument, "'{}' is not a valid job id",
               result.job.id);
  const fs::path final_dir = out_dir / result.job.id;
  std::error_code ec;
  DUOGEN_CHECK(!fs::exists(final_dir, ec), InvalidArgument,
               "{}: the job's output directory already exists", final_dir.string());
  fs::create_directories(out_dir, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create the output directory: {}", out_dir.string(),
               ec.message());
  const fs::path staging =
      out_dir / fmt::format(".{}.partial-{}", result.job.id, static_cast<long>(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create: {}", staging.string(), ec.message());
  try {
    std::size_t images = 0;
    for (const auto& s : result.segments) {
      if (s.kind == OutputSegment::Kind::kImage) {
        io::write_png_with_text(staging / image_file_name(++images), s.image, s.image_params);
      }
    }
    io::write_file_atomically(staging / "result.md", result_markdown(result));
    io::write_file_atomically(staging / "index.html", result_html(result));
    // result.json last: its presence is what marks the job as finished.
    io::write_file_atomically(staging / "result.json", result_json(result).dump(2) + "\n");
    fs::rename(staging, final_dir, ec);
    DUOGEN_CHECK(!ec, IoError, "{}: cannot move the finished job into place: {}",
                 final_dir.string(), ec.message());
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
  return final_dir;
}

}  // namespace duogen::pipeline
