// Judging: the rubric file, the requests, score parsing from messy answers, the OpenAI Batch
// export/import round trip, and the local-model judge with resume.
#include "bench/judge.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bench/bench_fixtures.h"
#include "core/base64.h"
#include "duogen/error.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using namespace testing;

Rubric project_rubric() {
  return read_rubric(duogen::testing::source_dir() / "configs" / "judge_rubric.json");
}

TEST(Judge, ParsesScoresFromMessyAnswers) {
  const std::vector<std::pair<std::string, std::optional<double>>> cases = {
      {"4", 4.0},
      {"  5.\n", 5.0},
      {"Score: 3", 3.0},
      {"The steps are clear but two are missing.\nScore: 4", 4.0},
      {"**Score:** 2", 2.0},
      {"**Rating**: [4]", 4.0},
      {"{\"reason\": \"fine\", \"score\": 5}", 5.0},
      {"Final score = 3/5", 3.0},
      {"I'd give it a 4 out of 5.", 4.0},
      {"Overall this deserves four out of five.", 4.0},
      {"I would rate this 2 because the images are unrelated.", 2.0},
      {"Steps 1-7 are all there, 3 images. Score: 5", 5.0},
      {"A score of 5 requires perfection. Score: 3", 3.0},
      {"Score: 4.5", 4.5},
      {"Score: 8/10", std::nullopt},  // not on the 1-5 scale
      {"Score: 0", std::nullopt},
      {"The response has 12 steps and 9 images.", std::nullopt},
      {"I cannot judge this.", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(parse_score(text), expected) << "'" << text << "'";
  }
  EXPECT_EQ(parse_score("Score: 8/10", 0, 10), 8.0);
}

TEST(Judge, RubricHasThePapersFiveMetrics) {
  const Rubric r = project_rubric();
  ASSERT_EQ(r.metrics.size(), 5u);
  const std::vector<std::pair<std::string, MetricLevel>> expected = {
      {"T-Com", MetricLevel::kSequence}, {"I-Com", MetricLevel::kSequence},
      {"I-Co", MetricLevel::kSequence},  {"I-Q", MetricLevel::kImage},
      {"IT-Co", MetricLevel::kImage}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(r.metrics[i].name, expected[i].first);
    EXPECT_EQ(r.metrics[i].level, expected[i].second);
    EXPECT_FALSE(r.metrics[i].prompt.empty());
  }
  EXPECT_EQ(r.min_score, 1);
  EXPECT_EQ(r.max_score, 5);
  // The answer format asks for what parse_score reads.
  EXPECT_NE(r.answer_format.find("Score: N"), std::string::npos);

  const fs::path dir = duogen::testing::make_temp_dir("judge-rubric");
  write_file(dir / "r.json", R"({"system": "s", "answer_format": "a", "metrics": [{"name": "X", "level": "pixel", "prompt": "p"}]})");
  try {
    read_rubric(dir / "r.json");
    ADD_FAILURE() << "bad level accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics[0].level"), std::string::npos) << e.what();
  }
}

struct JudgedRun {
  fs::path dir = duogen::testing::make_temp_dir("judge-run");
  fs::path run_dir = dir / "run";
  JudgedRun() {
    FakeRun fake;
    run(fake, write_generic_suite(dir, 3, {1}), run_dir, false);  // s01 fails: not judged
  }
};

std::size_t images_in(const fs::path& run_dir, const std::string& id) {
  return read_manifest(run_dir / "manifest.jsonl").entries.at(id == "s00" ? 0 : 2).images;
}

TEST(Judge, RequestsPerSequenceAndPerImage) {
  JudgedRun r;
  const auto requests = judge_requests(r.run_dir, project_rubric());
  const std::size_t images = images_in(r.run_dir, "s00") + images_in(r.run_dir, "s02");
  EXPECT_EQ(requests.size(), 2 * 3 + 2 * images);
  EXPECT_EQ(requests[0].custom_id, "s00/T-Com");
  EXPECT_EQ(requests[3].custom_id, "s00/I-Q/1");
  EXPECT_EQ(requests[4].custom_id, "s00/IT-Co/1");
  ASSERT_EQ(requests[0].messages.size(), 2u);
  EXPECT_EQ(requests[0].messages[0].role, "system");
  // The sequence request shows the whole response, images included.
  std::size_t image_parts = 0;
  for (const auto& p : requests[0].messages[1].content) {
    image_parts += p.kind == pipeline::ContentPart::Kind::kImage ? 1 : 0;
  }
  EXPECT_EQ(image_parts, images_in(r.run_dir, "s00"));
  for (const auto& req : requests) EXPECT_NE(req.sample_id, "s01");
}

TEST(Judge, BatchExportImportRoundTrip) {
  JudgedRun r;
  const Rubric rubric = project_rubric();
  const fs::path batch = r.dir / "batch.jsonl";
  const std::size_t n = export_batch(r.run_dir, rubric, batch, {"gpt-4o", 300});
  const auto lines = lines_of(batch);
  ASSERT_EQ(lines.size(), n);
  // Every request line is a chat completion with the images inlined as PNG data URLs.
  const auto first = nlohmann::json::parse(lines[3]);  // s00/I-Q/1
  EXPECT_EQ(first["custom_id"], "s00/I-Q/1");
  EXPECT_EQ(first["method"], "POST");
  EXPECT_EQ(first["url"], "/v1/chat/completions");
  EXPECT_EQ(first["body"]["model"], "gpt-4o");
  EXPECT_EQ(first["body"]["max_tokens"], 300);
  EXPECT_EQ(first["body"]["messages"][0]["role"], "system");
  std::string url;
  for (const auto& part : first["body"]["messages"][1]["content"]) {
    if (part["type"] == "image_url") url = part["image_url"]["url"];
  }
  const std::string prefix = "data:image/png;base64,";
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url.substr(0, 40);
  EXPECT_EQ(base64_decode(url.substr(prefix.size())),
            read_file(r.run_dir / "samples" / "s00" / "image-1.png"));

  // The batch output: answers in several styles, one API error, one answer without a score,
  // in another order than the requests.
  const std::vector<std::string> answers = {"Score: 4", "**Rating:** 3/5", "I'd say five out of five",
                                            "{\"score\": 2}", "Looks fine."};
  std::string output;
  for (std::size_t i = n; i-- > 0;) {
    const auto req = nlohmann::json::parse(lines[i]);
    nlohmann::json line = {{"id", fmt::format("batch_req_{}", i)},
                           {"custom_id", req["custom_id"]}};
    if (i == 1) {
      line["response"] = {{"status_code", 500}, {"body", {{"error", "server"}}}};
      line["error"] = {{"message", "internal error"}};
    } else {
      line["response"] = {
          {"status_code", 200},
          {"body", {{"choices", {{{"message", {{"role", "assistant"},
                                               {"content", answers[i % answers.size()]}}}}}}}}};
      line["error"] = nullptr;
    }
    output += line.dump() + "\n";
  }
  write_file(r.dir / "out.jsonl", output);
  const auto scores = import_batch(r.dir / "out.jsonl", rubric);
  ASSERT_EQ(scores.size(), n);
  const std::vector<std::optional<double>> expected_by_answer = {4.0, 3.0, 5.0, 2.0, std::nullopt};
  for (const auto& s : scores) {
    std::size_t i = 0;
    while (nlohmann::json::parse(lines[i])["custom_id"] != s.custom_id) ++i;
    if (i == 1) {
      EXPECT_FALSE(s.score.has_value());
      EXPECT_EQ(s.error, "internal error");
    } else {
      EXPECT_EQ(s.score, expected_by_answer[i % answers.size()]) << s.custom_id << " " << s.raw;
      EXPECT_EQ(s.raw, answers[i % answers.size()]);
    }
    const auto parts = split_custom_id(s.custom_id);
    EXPECT_EQ(s.sample_id, parts.sample_id);
  }
  // scores.jsonl round trip, with a torn last line ignored.
  write_scores(scores_file(r.run_dir), scores);
  const std::string text = read_file(scores_file(r.run_dir));
  write_file(scores_file(r.run_dir), text + "{\"custom_id\": \"s0");
  const auto back = read_scores(scores_file(r.run_dir));
  ASSERT_EQ(back.size(), scores.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].custom_id, scores[i].custom_id);
    EXPECT_EQ(back[i].score, scores[i].score);
    EXPECT_EQ(back[i].raw, scores[i].raw);
  }
  EXPECT_THROW(split_custom_id("no-metric"), FormatError);
  EXPECT_THROW(split_custom_id("a/I-Q/x"), FormatError);
}

TEST(Judge, LocalModelJudgesEveryRequestAndResumes) {
  JudgedRun r;
  const Rubric rubric = project_rubric();
  SeededConversation judge;
  judge.answer = "The text covers every step.\nScore: 4";
  LocalJudgeSettings settings;
  settings.stop_token_ids = {kEos};
  settings.bov_token_id = kBov;
  const auto scores = judge_with_model(r.run_dir, rubric, judge, settings);
  const std::size_t n = judge_requests(r.run_dir, rubric).size();
  ASSERT_EQ(scores.size(), n);
  EXPECT_EQ(judge.starts, static_cast<std::int64_t>(n));
  for (const auto& s : scores) {
    EXPECT_EQ(s.score, 4.0) << s.custom_id;
    EXPECT_EQ(s.raw, judge.answer);
  }
  EXPECT_EQ(read_scores(scores_file(r.run_dir)).size(), n);
  // Interrupted after two answers (the rest cut off): only the missing ones run again.
  const auto lines = lines_of(scores_file(r.run_dir));
  write_file(scores_file(r.run_dir), lines[0] + "\n" + lines[1] + "\n" + lines[2].substr(0, 10));
  SeededConversation again;
  again.answer = "Score: 2";
  const auto resumed = judge_with_model(r.run_dir, rubric, again, settings);
  EXPECT_EQ(again.starts, static_cast<std::int64_t>(n - 2));
  ASSERT_EQ(resumed.size(), n);
  EXPECT_EQ(resumed[0].score, 4.0);
  EXPECT_EQ(resumed[2].score, 2.0);
  EXPECT_EQ(lines_of(scores_file(r.run_dir)).size(), n);
}

}  // namespace
}  // namespace duogen::bench
