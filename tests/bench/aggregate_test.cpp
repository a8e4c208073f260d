// Aggregation arithmetic on synthetic scores, and the Markdown/CSV tables.
#include "bench/aggregate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "bench/bench_fixtures.h"
#include "duogen/error.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using namespace testing;

JudgeScore score(const std::string& custom_id, std::optional<double> value) {
  JudgeScore s = split_custom_id(custom_id);
  s.score = value;
  return s;
}

TEST(Aggregate, JudgeMeansPerSuiteWithImagesAveragedWithinASample) {
  Rubric rubric;
  rubric.metrics = {{"T-Com", "", MetricLevel::kSequence, ""}, {"I-Q", "", MetricLevel::kImage, ""}};
  const std::vector<nlohmann::json> records = {
      {{"id", "a"}, {"suite", "cooking"}}, {{"id", "b"}, {"suite", "cooking"}},
      {{"id", "c"}, {"suite", "howto"}}};
  const std::vector<JudgeScore> scores = {
      score("a/T-Com", 4), score("b/T-Com", 3), score("c/T-Com", 5),
      // a: images 5, 3 -> 4; b: one image 1 -> 1; cooking I-Q = (4 + 1) / 2 = 2.5
      score("a/I-Q/1", 5), score("a/I-Q/2", 3), score("b/I-Q/1", 1),
      score("c/I-Q/1", std::nullopt),  // unparsed: left out and counted
      score("zzz/T-Com", 1)};          // not in the run: ignored
  const Table t = judge_table(records, scores, rubric);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"suite", "T-Com", "I-Q", "samples", "unscored"}));
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"cooking", "3.50", "2.50", "2", "0"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"howto", "5.00", "-", "1", "1"}));
  EXPECT_EQ(to_markdown(t),
            "| suite | T-Com | I-Q | samples | unscored |\n|---|---:|---:|---:|---:|\n"
            "| cooking | 3.50 | 2.50 | 2 | 0 |\n| howto | 5.00 | - | 1 | 1 |\n");
  EXPECT_EQ(to_csv(t), "suite,T-Com,I-Q,samples,unscored\ncooking,3.50,2.50,2,0\nhowto,5.00,-,1,1\n");
}

TEST(Aggregate, GEditGeometricMeanPerSampleThenCategoryMeans) {
  const std::vector<EditScore> scores = {
      {"k1", "style_change", "en", 9, 4},  // O = 6
      {"k2", "style_change", "en", 4, 1},  // O = 2
      {"k3", "subject-add", "en", 8, 2},   // O = 4
      {"k4", "subject-add", "cn", 1, 1}};  // another language: not in the en table
  const Table t = gedit_table(scores, "en");
  ASSERT_EQ(t.rows.size(), 3u);
  // style_change: SC (9+4)/2 = 6.5, PQ 2.5, O (6+2)/2 = 4 (not sqrt(6.5*2.5)).
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"style_change", "6.500", "2.500", "4.000", "2"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"subject-add", "8.000", "2.000", "4.000", "1"}));
  // overall over all en samples: SC 7, PQ 7/3, O 4.
  EXPECT_EQ(t.rows[2], (std::vector<std::string>{"overall", "7.000", "2.333", "4.000", "3"}));
  EXPECT_EQ(gedit_table(scores, "cn").rows[0][3], "1.000");

  const fs::path dir = duogen::testing::make_temp_dir("agg-gedit");
  write_file(dir / "g.jsonl",
             R"({"key": "k1", "task_type": "t", "instruction_language": "en", "semantics_score": 9, "quality_score": 4})"
             "\n");
  const auto read = read_gedit_scores(dir / "g.jsonl");
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].sc, 9);
  EXPECT_EQ(read[0].pq, 4);
  write_file(dir / "bad.jsonl", R"({"key": "k1", "task_type": "t"})" "\n");
  EXPECT_THROW(read_gedit_scores(dir / "bad.jsonl"), FormatError);
}

TEST(Aggregate, ImgEditPerTypeAndOverall) {
  const std::vector<EditScore> scores = {
      {"1", "add", "en", 4, 0}, {"2", "add", "en", 2, 0}, {"3", "add", "en", 3, 0},
      {"4", "style", "en", 5, 0}};
  const Table t = imgedit_table(scores);
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"add", "3.00", "3"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"style", "5.00", "1"}));
  EXPECT_EQ(t.rows[2], (std::vector<std::string>{"overall (types)", "4.00", "4"}));
  EXPECT_EQ(t.rows[3], (std::vector<std::string>{"overall (samples)", "3.50", "4"}));

  const fs::path dir = duogen::testing::make_temp_dir("agg-imgedit");
  const fs::path list = duogen::testing::source_dir() / "benchmarks" / "edit" / "imgedit_sample.json";
  write_file(dir / "s.json", R"({"1": 4, "3": "Reasoning... Score: 2"})");
  const auto read = read_imgedit_scores(dir / "s.json", list);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].category, "add");
  EXPECT_EQ(read[1].sc, 2);
  write_file(dir / "bad.json", R"({"999": 4})");
  EXPECT_THROW(read_imgedit_scores(dir / "bad.json", list), FormatError);
}

TEST(Aggregate, CsvQuotesFields) {
  Table t;
  t.columns = {"name", "value"};
  t.rows = {{"a,b", "say \"hi\""}};
  EXPECT_EQ(to_csv(t), "name,value\n\"a,b\",\"say \"\"hi\"\"\"\n");
  EXPECT_EQ(format_number(std::nullopt), "-");
  EXPECT_EQ(format_number(2.0 / 3.0, 2), "0.67");
}

}  // namespace
}  // namespace duogen::bench
