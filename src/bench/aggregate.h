// Aggregation into the paper's table layout, as Markdown and CSV.
//   judge_table    one row per suite, one column per rubric metric: the mean over samples;
//                  image-level metrics are first averaged over a sample's images, so a sample
//                  with many images weighs as much as one with few. Unparsed scores are left
//                  out (and counted in the "unscored" column).
//   gedit_table    GEdit: per sample O = sqrt(SC * PQ); rows per task type, then "overall"
//                  (the mean over all samples); columns SC, PQ, O.
//   imgedit_table  ImgEdit: rows per edit type, then "overall (types)" (the mean of the type
//                  means, as the ImgEdit table's Overall column) and "overall (samples)".
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/judge.h"

namespace duogen::bench {

struct Table {
  std::vector<std::string> columns;  // the first is the row label's header
  std::vector<std::vector<std::string>> rows;
};

std::string to_markdown(const Table& table);
std::string to_csv(const Table& table);

// records: the run's ok records (read_records); scores: read_scores/import_batch.
Table judge_table(const std::vector<nlohmann::json>& records,
                  const std::vector<JudgeScore>& scores, const Rubric& rubric);

struct EditScore {
  std::string key;
  std::string category;       // GEdit task_type / ImgEdit edit_type
  std::string language = "en";
  double sc = 0;  // GEdit semantic consistency (0-10) / ImgEdit score
  double pq = 0;  // GEdit perceptual quality (0-10); unused for ImgEdit
};

Table gedit_table(const std::vector<EditScore>& scores, const std::string& language = "en");
Table imgedit_table(const std::vector<EditScore>& scores);

// GEdit scores as JSON Lines {"key", "task_type", "instruction_language", "semantics_score",
// "quality_score"} (the columns GEdit's own scorer writes).
std::vector<EditScore> read_gedit_scores(const std::filesystem::path& file);

// ImgEdit scores {key: number or judge text} plus the ImgEdit list for the edit types.
std::vector<EditScore> read_imgedit_scores(const std::filesystem::path& scores,
                                           const std::filesystem::path& edit_list);

// "4.123" style: fixed `digits` decimals, "-" for no value.
std::string format_number(std::optional<double> value, int digits = 3);

}  // namespace duogen::bench
