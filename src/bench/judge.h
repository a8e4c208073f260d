// Judging interleaved outputs on the paper's rubric (T-Com, I-Com, I-Co per sequence; I-Q,
// IT-Co per generated image; 1-5 each) with a local MLLM through this engine, or with an
// external GPT-class model through OpenAI Batch API files (--export / --import).
//
// The rubric wording lives in configs/judge_rubric.json (the project's own). Only the first
// output of a sample (repeat 0) is judged. Requests are named "<sample id>/<metric>" and
// "<sample id>/<metric>/<image n>" (1-based), which is the Batch API custom_id.
// Scores go to <run>/judge/scores.jsonl: one line per request
//   {"custom_id", "id", "metric", "image", "score": number|null, "raw": judge text, "error"?}.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/interleaved.h"
#include "pipeline/job.h"

namespace duogen::bench {

enum class MetricLevel { kSequence, kImage };

struct RubricMetric {
  std::string name;  // "T-Com"
  std::string title;
  MetricLevel level = MetricLevel::kSequence;
  std::string prompt;
};

struct Rubric {
  std::string system;
  std::string answer_format;  // appended to every metric prompt
  std::int64_t min_score = 1;
  std::int64_t max_score = 5;
  std::vector<RubricMetric> metrics;
};

// Reads configs/judge_rubric.json; FormatError naming the file and key for anything malformed.
Rubric read_rubric(const std::filesystem::path& file);

struct JudgeRequest {
  std::string custom_id;
  std::string sample_id;
  std::string metric;
  std::int64_t image = 0;  // 1-based image for image-level metrics, 0 for sequence level
  std::vector<pipeline::Message> messages;  // system + user, images as files
};

// The requests for every ok record of a run, in suite order, sequence metrics first.
std::vector<JudgeRequest> judge_requests(const std::filesystem::path& run_dir,
                                         const Rubric& rubric);

// The first number in [lo, hi] that the text states as its score, found by trying in order:
// a labelled score ("Score: 4", "**Rating**: 4/5", "\"score\": 4", the last such label wins),
// a fraction ("4/5", "4 out of 5", number words included), a phrase ("I would rate it 4",
// "a score of 4"), a bare number as the whole answer. nullopt when none fits.
std::optional<double> parse_score(std::string_view text, double lo = 1, double hi = 5);

struct JudgeScore {
  std::string custom_id;
  std::string sample_id;
  std::string metric;
  std::int64_t image = 0;
  std::optional<double> score;
  std::string raw;
  std::string error;
};

nlohmann::json score_json(const JudgeScore& score);
JudgeScore score_from_json(const nlohmann::json& line, const std::string& where);

// "<id>/<metric>[/<n>]" -> its parts; FormatError otherwise.
JudgeScore split_custom_id(const std::string& custom_id);

struct BatchOptions {
  std::string model = "gpt-4o";
  std::int64_t max_tokens = 512;
};

// One OpenAI Batch API request line (POST /v1/chat/completions), images inlined as data URLs.
nlohmann::json batch_request_line(const JudgeRequest& request, const BatchOptions& options);

// Writes every request of the run to `out` (JSON Lines). Returns the number of requests.
std::size_t export_batch(const std::filesystem::path& run_dir, const Rubric& rubric,
                         const std::filesystem::path& out, const BatchOptions& options);

// Reads a Batch API output file (one {"custom_id", "response": {"status_code", "body":
// {"choices": [{"message": {"content"}}]}}, "error"} per line) and parses every score.
std::vector<JudgeScore> import_batch(const std::filesystem::path& batch_output,
                                     const Rubric& rubric);

// <run>/judge/scores.jsonl
std::filesystem::path scores_file(const std::filesystem::path& run_dir);
void write_scores(const std::filesystem::path& file, const std::vector<JudgeScore>& scores);
// The last line per custom_id wins; a torn last line is ignored.
std::vector<JudgeScore> read_scores(const std::filesystem::path& file);

struct LocalJudgeSettings {
  std::set<std::int64_t> stop_token_ids;
  std::int64_t bov_token_id = -1;  // when >= 0, suppressed: the judge answers in text only
  std::int64_t max_new_tokens = 512;
  pipeline::TextSampling sampling;  // greedy by default
  std::uint64_t seed = 0;
};

// Greedy (by default) text generation through the engine's conversation model.
std::string generate_text(pipeline::ConversationModel& mllm,
                          const std::vector<pipeline::Message>& messages,
                          const LocalJudgeSettings& settings);

// Judges every request of the run with a local MLLM, appending to scores.jsonl (fsync'd) as it
// goes and skipping requests already scored there, so an interrupted judging resumes.
std::vector<JudgeScore> judge_with_model(const std::filesystem::path& run_dir,
                                         const Rubric& rubric, pipeline::ConversationModel& mllm,
                                         const LocalJudgeSettings& settings);

}  // namespace duogen::bench
