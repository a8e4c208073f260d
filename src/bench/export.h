// Exporters: from a run's records to the directory layouts the official scorers read.
//   GenEval   <out>/<%05d>/metadata.jsonl (the prompt's metadata line) + samples/<%04d>.png, one
//             per repeat (the first image each repeat made)
//   ImgEdit   <out>/<key>.png
//   GEdit     <out>/<model>/fullset/<task_type>/<language>/<key>.png + <key>_SRCIMG.png
//   CoMM t4   <out>/<data_id>_task4/results.json {"data_id", "model_output": "(1) text <IMAGE>
//             (2) ...", "images": [...]} with the images beside it as <n>.png
// Only samples with status ok are exported; a sample without an image where the layout needs
// one is listed in the result's `missing` (the scorers then count it as a failure).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace duogen::bench {

enum class ExportFormat { kGenEval, kImgEdit, kGEdit, kCoMM };

ExportFormat parse_export_format(const std::string& name);  // geneval|imgedit|gedit|comm

struct ExportResult {
  std::size_t exported = 0;           // samples written
  std::vector<std::string> missing;   // sample ids without the image(s) the layout needs
};

struct ExportOptions {
  std::string model_name = "duogen";  // GEdit's <model> folder
};

ExportResult export_run(const std::filesystem::path& run_dir, ExportFormat format,
                        const std::filesystem::path& out, const ExportOptions& options = {});

// CoMM's interleaved string: the record's first output, text segments numbered in order
// "(1) text <IMAGE> (2) text ..."; an image closes the current step.
std::string comm_model_output(const nlohmann::json& record);

}  // namespace duogen::bench
