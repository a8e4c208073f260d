// The `duogen bench` / `duogen judge` command lines, wired to the fake models: run, shard from
// launcher variables, merge, export, aggregate, report, judge export and local judging.
#include "cmd_bench.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "bench/bench_fixtures.h"
#include "bench/judge.h"
#include "bench/run.h"
#include "duogen/error.h"
#include "testing/test_paths.h"

namespace duogen::cli {
namespace {

namespace fs = std::filesystem;
using namespace bench::testing;

struct Cli {
  fs::path dir = duogen::testing::make_temp_dir("bench-cli");
  std::map<std::string, std::string> env;
  std::string judge_answer = "Score: 3";
  int loads = 0;
  Cli() {
    for (const char* c : {"mllm", "dit", "vae"}) fs::create_directories(dir / c);
    // The fakes' <BOV> and small images.
    write_file(dir / "duogen.json",
               R"({"mllm": "mllm", "dit": "dit", "vae": "vae", "bov_token_id": 100,
                   "defaults": {"width": 16, "height": 16, "steps": 2}})");
    write_generic_suite(dir, 5);
  }
  void parse(std::vector<std::string> args) {
    CLI::App app;
    app.require_subcommand(1);
    add_bench_command(
        app,
        [this](const pipeline::ModelManifest&, const DevicePlacement&) {
          ++loads;
          LoadedModels m;
          m.mllm = std::make_unique<SeededConversation>();
          m.images = std::make_unique<SeededImageModel>();
          m.lookup = [](const std::string& t) -> std::optional<std::int64_t> {
            return t == "<BOV>" ? std::optional<std::int64_t>(kBov) : std::nullopt;
          };
          m.stop_token_ids = {kEos};
          return m;
        },
        [this](const char* name) -> const char* {
          const auto it = env.find(name);
          return it == env.end() ? nullptr : it->second.c_str();
        });
    add_judge_command(app, [this](const fs::path&, const DevicePlacement&) {
      LoadedModels m;
      auto judge = std::make_unique<SeededConversation>();
      judge->answer = judge_answer;
      m.mllm = std::move(judge);
      m.stop_token_ids = {kEos};
      return m;
    });
    std::reverse(args.begin(), args.end());
    app.parse(args);
  }
  std::vector<std::string> run_args(const fs::path& out) {
    return {"bench", "--model", dir.string(), "--suite", (dir / "suite.jsonl").string(),
            "--out", out.string(), "--steps", "3"};
  }
};

TEST(BenchCli, RunExportReportJudgeAggregate) {
  Cli cli;
  const fs::path run = cli.dir / "run";
  cli.parse(cli.run_args(run));
  EXPECT_EQ(cli.loads, 1);
  EXPECT_EQ(bench::read_manifest(run / "manifest.jsonl").entries.size(), 5u);
  const auto record = nlohmann::json::parse(read_file(run / "samples" / "s00" / "record.json"));
  EXPECT_EQ(record["settings"]["steps"], 3);  // the command line's option reached the jobs
  // Again without --resume: refused; with it: nothing to do.
  EXPECT_THROW(cli.parse(cli.run_args(run)), UsageError);
  auto resume = cli.run_args(run);
  resume.push_back("--resume");
  cli.parse(resume);
  EXPECT_EQ(bench::read_manifest(run / "manifest.jsonl").entries.size(), 5u);

  cli.parse({"bench", "export", "--run", run.string(), "--format", "comm", "--out",
             (cli.dir / "comm").string()});
  EXPECT_TRUE(fs::is_regular_file(cli.dir / "comm" / "s04_task4" / "results.json"));
  cli.parse({"bench", "report", "--run", run.string()});
  EXPECT_TRUE(fs::is_regular_file(run / "report.html"));

  const std::string rubric = (duogen::testing::source_dir() / "configs" / "judge_rubric.json").string();
  cli.parse({"judge", "--run", run.string(), "--rubric", rubric, "--export",
             (cli.dir / "batch.jsonl").string(), "--batch-model", "gpt-test"});
  const auto batch = lines_of(cli.dir / "batch.jsonl");
  ASSERT_FALSE(batch.empty());
  EXPECT_EQ(nlohmann::json::parse(batch[0])["body"]["model"], "gpt-test");
  cli.parse({"judge", "--run", run.string(), "--rubric", rubric, "--judge-model",
             (cli.dir / "mllm").string()});
  const auto scores = bench::read_scores(bench::scores_file(run));
  EXPECT_EQ(scores.size(), batch.size());
  for (const auto& s : scores) EXPECT_EQ(s.score, 3.0);
  cli.parse({"bench", "aggregate", "--run", run.string(), "--rubric", rubric, "--out",
             (cli.dir / "table").string()});
  const std::string md = read_file(cli.dir / "table.md");
  EXPECT_NE(md.find("| generic | 3.00 | 3.00 | 3.00 | 3.00 | 3.00 | 5 | 0 |"), std::string::npos)
      << md;
  EXPECT_TRUE(fs::is_regular_file(cli.dir / "table.csv"));
  EXPECT_THROW(cli.parse({"judge", "--run", run.string(), "--rubric", rubric}), UsageError);
}

TEST(BenchCli, AggregateEditScores) {
  Cli cli;
  write_file(cli.dir / "gedit.jsonl",
             R"({"key": "a", "task_type": "t", "semantics_score": 9, "quality_score": 1})" "\n");
  cli.parse({"bench", "aggregate", "--gedit-scores", (cli.dir / "gedit.jsonl").string(), "--out",
             (cli.dir / "gedit").string()});
  EXPECT_EQ(read_file(cli.dir / "gedit.csv"), "task_type,SC,PQ,O,samples\nt,9.000,1.000,3.000,1\n"
                                               "overall,9.000,1.000,3.000,1\n");
  const std::string list =
      (duogen::testing::source_dir() / "benchmarks" / "edit" / "imgedit_sample.json").string();
  write_file(cli.dir / "imgedit.json", R"({"1": 5, "2": 3})");
  EXPECT_THROW(cli.parse({"bench", "aggregate", "--imgedit-scores",
                          (cli.dir / "imgedit.json").string(), "--out", "x"}),
               UsageError);  // no --edit-list
  cli.parse({"bench", "aggregate", "--imgedit-scores", (cli.dir / "imgedit.json").string(),
             "--edit-list", list, "--out", (cli.dir / "imgedit").string()});
  EXPECT_NE(read_file(cli.dir / "imgedit.md").find("| overall (samples) | 4.00 | 2 |"),
            std::string::npos);
}

TEST(BenchCli, ShardsFromLauncherVariablesThenMerge) {
  Cli cli;
  const fs::path out = cli.dir / "sharded";
  for (const char* rank : {"0", "1"}) {
    cli.env = {{"RANK", rank}, {"WORLD_SIZE", "2"}};
    cli.parse(cli.run_args(out));
  }
  EXPECT_EQ(bench::read_manifest(out / "shard-000-of-002" / "manifest.jsonl").entries.size(), 3u);
  EXPECT_EQ(bench::read_manifest(out / "shard-001-of-002" / "manifest.jsonl").entries.size(), 2u);
  // --shard wins over the environment.
  auto flag = cli.run_args(cli.dir / "flag");
  flag.insert(flag.end(), {"--shard", "2/3"});
  cli.parse(flag);
  EXPECT_EQ(bench::read_manifest(cli.dir / "flag" / "shard-002-of-003" / "manifest.jsonl")
                .entries.size(),
            1u);
  cli.parse({"bench", "merge", "--out", out.string()});
  const auto merged = bench::read_manifest(out / "manifest.jsonl").entries;
  ASSERT_EQ(merged.size(), 5u);
  for (std::size_t i = 0; i < merged.size(); ++i) EXPECT_EQ(merged[i].index, static_cast<std::int64_t>(i));
  EXPECT_THROW(cli.parse({"bench", "--out", out.string()}), UsageError);  // no --suite
}

}  // namespace
}  // namespace duogen::cli
