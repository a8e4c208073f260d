#include "bench/export.h"

#include <nlohmann/json.hpp>

#include "bench/run.h"
#include "core/check.h"
#include "io/atomic_file.h"
#include "io/image_io.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Images of one output (repeat), in order, as absolute paths.
std::vector<fs::path> output_images(const fs::path& run_dir, const json& record,
                                    std::size_t repeat) {
  std::vector<fs::path> out;
  const auto& outputs = record.at("outputs");
  if (repeat >= outputs.size()) return out;
  for (const auto& seg : outputs[repeat].at("segments")) {
    if (seg.at("type") == "image") {
      out.push_back(run_dir / "samples" / record.at("id").get<std::string>() /
                    seg.at("path").get<std::string>());
    }
  }
  return out;
}

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create: {}", dir.string(), ec.message());
}

void copy_into(const fs::path& from, const fs::path& to) {
  make_dirs(to.parent_path());
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  DUOGEN_CHECK(!ec, IoError, "cannot copy {} to {}: {}", from.string(), to.string(),
               ec.message());
}

// Scorers expect PNG: input images in other formats are re-encoded.
void write_as_png(const fs::path& from, const fs::path& to) {
  if (from.extension() == ".png") {
    copy_into(from, to);
  } else {
    make_dirs(to.parent_path());
    io::write_png(to, io::read_image_rgb(from));
  }
}

std::string metadata_string(const json& record, const char* key) {
  const auto& meta = record.at("metadata");
  DUOGEN_CHECK(meta.contains(key) && meta[key].is_string(), FormatError,
               "sample '{}': its record's metadata has no '{}' (was the run made from a suite "
               "of this format?)",
               record.at("id").get<std::string>(), key);
  return meta[key].get<std::string>();
}

void export_geneval(const fs::path& run_dir, const json& record, const fs::path& out,
                    ExportResult& result) {
  DUOGEN_CHECK(record.at("suite") == "geneval", InvalidArgument,
               "sample '{}' comes from a {} suite, not GenEval", record.at("id").get<std::string>(),
               record.at("suite").get<std::string>());
  const fs::path dir = out / fmt::format("{:05d}", record.at("index").get<std::int64_t>());
  make_dirs(dir / "samples");
  io::write_file_atomically(dir / "metadata.jsonl", record.at("metadata").dump() + "\n");
  bool complete = true;
  for (std::size_t r = 0; r < record.at("outputs").size(); ++r) {
    const auto images = output_images(run_dir, record, r);
    if (images.empty()) {
      complete = false;
      continue;
    }
    copy_into(images.front(), dir / "samples" / fmt::format("{:04d}.png", r));
  }
  if (!complete) result.missing.push_back(record.at("id").get<std::string>());
}

void export_imgedit(const fs::path& run_dir, const json& record, const fs::path& out,
                    ExportResult& result) {
  const auto images = output_images(run_dir, record, 0);
  if (images.empty()) {
    result.missing.push_back(record.at("id").get<std::string>());
    return;
  }
  copy_into(images.front(), out / (metadata_string(record, "key") + ".png"));
}

void export_gedit(const fs::path& run_dir, const json& record, const fs::path& out,
                  const ExportOptions& options, ExportResult& result) {
  const std::string key = metadata_string(record, "key");
  const std::string language = metadata_string(record, "instruction_language");
  const fs::path dir = out / options.model_name / "fullset" /
                       metadata_string(record, "task_type") / language;
  const auto images = output_images(run_dir, record, 0);
  if (images.empty()) {
    result.missing.push_back(record.at("id").get<std::string>());
    return;
  }
  copy_into(images.front(), dir / (key + ".png"));
  const auto& inputs = record.at("input").at("images");
  DUOGEN_CHECK(!inputs.empty(), FormatError, "sample '{}': a GEdit record needs its source image",
               record.at("id").get<std::string>());
  write_as_png(inputs[0].get<std::string>(), dir / (key + "_SRCIMG.png"));
}

void export_comm(const fs::path& run_dir, const json& record, const fs::path& out,
                 ExportResult& result) {
  const auto& meta = record.at("metadata");
  const std::string data_id = meta.contains("data_id") && meta["data_id"].is_string()
                                  ? meta["data_id"].get<std::string>()
                                  : record.at("id").get<std::string>();
  const fs::path dir = out / (data_id + "_task4");
  make_dirs(dir);
  json images = json::array();
  std::size_t n = 0;
  for (const auto& image : output_images(run_dir, record, 0)) {
    const std::string name = fmt::format("{}.png", n++);
    copy_into(image, dir / name);
    images.push_back(name);
  }
  if (images.empty()) result.missing.push_back(record.at("id").get<std::string>());
  const json results = {{"data_id", data_id},
                        {"model_output", comm_model_output(record)},
                        {"images", images}};
  io::write_file_atomically(dir / "results.json", dump_json(results, 2) + "\n");
}

}  // namespace

ExportFormat parse_export_format(const std::string& name) {
  if (name == "geneval") return ExportFormat::kGenEval;
  if (name == "imgedit") return ExportFormat::kImgEdit;
  if (name == "gedit") return ExportFormat::kGEdit;
  if (name == "comm") return ExportFormat::kCoMM;
  DUOGEN_FAIL(UsageError, "unknown export format '{}' (geneval, imgedit, gedit or comm)", name);
}

std::string comm_model_output(const json& record) {
  std::string out;
  std::size_t step = 0;
  bool open = false;  // a step has text and no image yet
  const auto open_step = [&] {
    if (!out.empty()) out += ' ';
    out += fmt::format("({})", ++step);
    open = true;
  };
  const auto& outputs = record.at("outputs");
  if (outputs.empty()) return out;
  for (const auto& seg : outputs[0].at("segments")) {
    if (seg.at("type") == "text") {
      std::string text = seg.at("text").get<std::string>();
      const auto b = text.find_first_not_of(" \t\r\n");
      if (b == std::string::npos) continue;
      text = text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
      if (!open) open_step();
      out += ' ' + text;
    } else {
      if (!open) open_step();
      out += " <IMAGE>";
      open = false;
    }
  }
  return out;
}

ExportResult export_run(const fs::path& run_dir, ExportFormat format, const fs::path& out,
                        const ExportOptions& options) {
  ExportResult result;
  make_dirs(out);
  for (const json& record : read_records(run_dir)) {
    switch (format) {
      case ExportFormat::kGenEval: export_geneval(run_dir, record, out, result); break;
      case ExportFormat::kImgEdit: export_imgedit(run_dir, record, out, result); break;
      case ExportFormat::kGEdit: export_gedit(run_dir, record, out, options, result); break;
      case ExportFormat::kCoMM: export_comm(run_dir, record, out, result); break;
    }
    ++result.exported;
  }
  return result;
}

}  // namespace duogen::bench
