// Benchmark runs: records and manifest, failures recorded while the run goes on, resume after
// kills at several points, sharding from flags and launcher variables, shard + merge equal to
// one unsharded run, progress lines.
#include "bench/run.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "bench/bench_fixtures.h"
#include "duogen/error.h"
#include "io/json_config.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using namespace testing;

std::vector<std::string> ok_ids(const fs::path& run) {
  std::vector<std::string> ids;
  for (const auto& e : read_manifest(run / "manifest.jsonl").entries) {
    if (e.ok) ids.push_back(e.id);
  }
  return ids;
}

TEST(BenchRun, WritesRecordsAndManifestAndRecordsFailures) {
  const fs::path dir = duogen::testing::make_temp_dir("bench-run");
  const Suite suite = write_generic_suite(dir, 5, {2});
  FakeRun fake;
  const auto summary = run(fake, suite, dir / "out", false);
  EXPECT_EQ(summary.finished, 4);
  ASSERT_EQ(summary.failures.size(), 1u);
  EXPECT_EQ(summary.failures[0].first, "s02");
  const auto manifest = read_manifest(dir / "out" / "manifest.jsonl");
  ASSERT_EQ(manifest.entries.size(), 5u);
  EXPECT_FALSE(manifest.torn_tail);
  EXPECT_FALSE(manifest.entries[2].ok);
  EXPECT_NE(manifest.entries[2].error.find("refuses"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "out" / "samples" / "s02"));

  const auto record = io::read_json_file(dir / "out" / "samples" / "s01" / "record.json");
  EXPECT_EQ(record["id"], "s01");
  EXPECT_EQ(record["index"], 1);
  EXPECT_EQ(record["category"], "odd");
  EXPECT_EQ(record["status"], "ok");
  EXPECT_EQ(record["input"]["text"], "sample 1");
  ASSERT_EQ(record["outputs"].size(), 1u);
  const auto& out = record["outputs"][0];
  const std::uint64_t seed = derive_seed("s01", 0, 0);
  EXPECT_EQ(out["seed"], seed);
  EXPECT_EQ(record["settings"]["seed"], seed);
  // The fake's script: text, image, text, then (odd seeds) image, text.
  const auto& segs = out["segments"];
  ASSERT_EQ(segs.size(), seed % 2 == 1 ? 5u : 3u);
  EXPECT_EQ(segs[0]["type"], "text");
  EXPECT_EQ(segs[1]["type"], "image");
  EXPECT_EQ(segs[1]["path"], "image-1.png");
  EXPECT_EQ(segs[1]["params"]["seed"], std::to_string(seed));
  EXPECT_TRUE(fs::is_regular_file(dir / "out" / "samples" / "s01" / "image-1.png"));
  EXPECT_EQ(manifest.entries[1].images, seed % 2 == 1 ? 2 : 1);
  const auto info = io::read_json_file(dir / "out" / "run.json");
  EXPECT_EQ(info["samples"], 5);
  // A second run without --resume refuses to mix into the directory.
  EXPECT_THROW(run(fake, suite, dir / "out", false), UsageError);
}

TEST(BenchRun, ResumeAfterAKillMidSampleRedoesOnlyTheUnfinished) {
  const fs::path dir = duogen::testing::make_temp_dir("bench-kill");
  const Suite suite = write_generic_suite(dir, 6, {4});
  FakeRun fake;
  fake.mllm.kill_at_start = 4;  // killed while running s03
  EXPECT_THROW(run(fake, suite, dir / "out", false), Killed);
  EXPECT_EQ(ok_ids(dir / "out"), (std::vector<std::string>{"s00", "s01", "s02"}));
  // What a real kill -9 also leaves: the in-flight sample's staging directory.
  write_file(dir / "out" / "samples" / ".s03.partial-4242" / "image-1.png", "half");

  FakeRun again;
  const auto summary = run(again, suite, dir / "out", true);
  EXPECT_EQ(summary.skipped, 3);
  EXPECT_EQ(summary.finished, 2);  // s03, s05; s04 fails again
  EXPECT_EQ(summary.failures.size(), 1u);
  EXPECT_EQ(again.mllm.seen_texts,
            (std::vector<std::string>{"sample 3", "sample 4 FAIL", "sample 5"}));
  EXPECT_FALSE(fs::exists(dir / "out" / "samples" / ".s03.partial-4242"));
  EXPECT_EQ(ok_ids(dir / "out"), (std::vector<std::string>{"s00", "s01", "s02", "s03", "s05"}));

  // Resuming again reruns only the failed sample.
  FakeRun third;
  const auto s3 = run(third, suite, dir / "out", true);
  EXPECT_EQ(s3.skipped, 5);
  EXPECT_EQ(third.mllm.seen_texts, (std::vector<std::string>{"sample 4 FAIL"}));
}

TEST(BenchRun, TornManifestLineIsIgnoredAndCutBeforeAppending) {
  const fs::path dir = duogen::testing::make_temp_dir("bench-torn");
  const Suite suite = write_generic_suite(dir, 4);
  FakeRun fake;
  run(fake, suite, dir / "out", false);
  const fs::path manifest = dir / "out" / "manifest.jsonl";
  const std::string full = read_file(manifest);
  // Kill during the append of s03's line: half of it is on disk. Its directory is complete,
  // so resume recovers the line from record.json rather than rerunning the sample.
  const std::size_t last_start = full.rfind('\n', full.size() - 2) + 1;
  write_file(manifest, full.substr(0, last_start + (full.size() - last_start) / 2));
  auto contents = read_manifest(manifest);
  EXPECT_TRUE(contents.torn_tail);
  EXPECT_EQ(contents.entries.size(), 3u);
  EXPECT_EQ(contents.valid_bytes, last_start);

  FakeRun again;
  const auto summary = run(again, suite, dir / "out", true);
  EXPECT_EQ(summary.recovered, 1);
  EXPECT_EQ(summary.skipped, 4);
  EXPECT_TRUE(again.mllm.seen_texts.empty());
  contents = read_manifest(manifest);
  EXPECT_FALSE(contents.torn_tail);
  EXPECT_EQ(ok_ids(dir / "out"), (std::vector<std::string>{"s00", "s01", "s02", "s03"}));
  for (const auto& line : lines_of(manifest)) {
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
  }

  // Killed after writing the line's first bytes but before the sample's rename: the directory
  // is gone too, so the sample is run again.
  write_file(manifest, read_file(manifest).substr(0, last_start) + "{\"id\": \"s0");
  fs::remove_all(dir / "out" / "samples" / "s03");
  FakeRun third;
  const auto s3 = run(third, suite, dir / "out", true);
  EXPECT_EQ(s3.finished, 1);
  EXPECT_EQ(third.mllm.seen_texts, (std::vector<std::string>{"sample 3"}));
  EXPECT_EQ(lines_of(manifest).size(), 4u);
}

// A real SIGKILL at arbitrary moments of a run in a child process: after every kill the
// manifest reads back (at most a torn last line), every "ok" sample is complete, and resuming to
// the end gives the same records and images as an uninterrupted run.
TEST(BenchRun, SigkillAtArbitraryMomentsThenResume) {
  struct SlowImages : SeededImageModel {
    at::Tensor generate(const pipeline::ImageRequest& request, const pipeline::ProgressFn& p,
                        std::vector<std::pair<std::string, double>>& timings) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      return SeededImageModel::generate(request, p, timings);
    }
  };
  const fs::path dir = duogen::testing::make_temp_dir("bench-sigkill");
  const Suite suite = write_generic_suite(dir, 16, {6});
  FakeRun reference;
  run(reference, suite, dir / "reference", false);

  const fs::path out = dir / "killed";
  int kills = 0;
  for (const int delay_ms : {2, 5, 9, 14, 20, 27, 35, 44}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      FakeRun fake;
      SlowImages slow;
      BenchModels models = fake.models();
      models.images = &slow;
      BenchOptions options;
      options.out_dir = out;
      options.resume = true;
      try {
        run_bench(suite, models, options);
      } catch (...) {
        ::_exit(3);
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) {
      ++kills;
    } else {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "the child run failed after " << delay_ms << " ms";
    }
    const auto manifest = read_manifest(out / "manifest.jsonl");  // throws if damaged mid-file
    for (const auto& [id, e] : latest_entries(manifest)) {
      if (e.ok) {
        EXPECT_TRUE(fs::is_regular_file(out / "samples" / id / "record.json")) << id;
      }
    }
  }
  EXPECT_GT(kills, 0);
  FakeRun last;
  run(last, suite, out, true);
  const auto a = read_manifest(dir / "reference" / "manifest.jsonl");
  const auto b = read_manifest(out / "manifest.jsonl");
  EXPECT_FALSE(b.torn_tail);
  const auto la = latest_entries(a);
  const auto lb = latest_entries(b);
  ASSERT_EQ(la.size(), lb.size());
  std::map<std::string, int> ok_lines;
  for (const auto& e : b.entries) ok_lines[e.id] += e.ok ? 1 : 0;
  for (const auto& [id, e] : la) {
    EXPECT_EQ(lb.at(id).ok, e.ok) << id;
    if (!e.ok) continue;
    EXPECT_EQ(ok_lines[id], 1) << id;  // finished once, never redone
    EXPECT_EQ(stable_record(dir / "reference" / "samples" / id / "record.json"),
              stable_record(out / "samples" / id / "record.json"))
        << id;
    EXPECT_EQ(read_file(dir / "reference" / "samples" / id / "image-1.png"),
              read_file(out / "samples" / id / "image-1.png"))
        << id;
  }
  for (const auto& entry : fs::directory_iterator(out / "samples")) {
    EXPECT_NE(entry.path().filename().string()[0], '.') << "staging left: " << entry.path();
  }
}

TEST(BenchRun, DamageBeforeTheLastLineIsAnError) {
  const fs::path dir = duogen::testing::make_temp_dir("bench-damaged");
  write_file(dir / "manifest.jsonl",
             "{\"id\": \"a\", \"index\": 0, \"status\": \"ok\"}\n{garbage\n"
             "{\"id\": \"b\", \"index\": 1, \"status\": \"ok\"}\n");
  try {
    read_manifest(dir / "manifest.jsonl");
    ADD_FAILURE() << "damaged manifest accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(BenchRun, ResumeRefusesAnotherSuitesDirectory) {
  const fs::path dir = duogen::testing::make_temp_dir("bench-other");
  FakeRun fake;
  run(fake, write_generic_suite(dir / "a", 3), dir / "out", false);
  EXPECT_THROW(run(fake, write_generic_suite(dir / "b", 4), dir / "out", true), UsageError);
  EXPECT_THROW(run(fake, write_generic_suite(dir / "a", 3), dir / "out", true, {1, 2}),
               UsageError);
}

TEST(BenchRun, ShardsFromFlagsAndLauncherVariables) {
  EXPECT_EQ(parse_shard("2/5"), (Shard{2, 5}));
  EXPECT_THROW(parse_shard("5/5"), UsageError);
  EXPECT_THROW(parse_shard("x/5"), UsageError);
  EXPECT_THROW(parse_shard("3"), UsageError);
  const auto env = [](std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  EXPECT_FALSE(shard_from_environment(env({})).has_value());
  EXPECT_EQ(shard_from_environment(env({{"SLURM_ARRAY_TASK_ID", "3"},
                                        {"SLURM_ARRAY_TASK_COUNT", "8"},
                                        {"RANK", "1"},
                                        {"WORLD_SIZE", "2"}})),
            (Shard{3, 8}));
  EXPECT_EQ(shard_from_environment(env({{"SLURM_ARRAY_TASK_ID", "4"},
                                        {"SLURM_ARRAY_TASK_COUNT", "4"},
                                        {"SLURM_ARRAY_TASK_MIN", "1"}})),
            (Shard{3, 4}));
  EXPECT_EQ(shard_from_environment(env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}})),
            (Shard{5, 6}));
  EXPECT_EQ(shard_from_environment(env({{"RANK", "1"}, {"WORLD_SIZE", "2"}})), (Shard{1, 2}));
  EXPECT_EQ(shard_from_environment(
                env({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "3"}})),
            (Shard{0, 3}));
  try {
    shard_from_environment(env({{"RANK", "2"}, {"WORLD_SIZE", "2"}}));
    ADD_FAILURE() << "rank == world size accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("RANK=2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(shard_from_environment(env({{"RANK", "one"}, {"WORLD_SIZE", "2"}})), UsageError);
}

TEST(BenchRun, ShardPlusMergeEqualsOneRun) {
  const fs::path dir = duogen::testing::make_temp_dir("bench-shard");
  const Suite suite = write_generic_suite(dir, 7, {5});
  FakeRun whole;
  run(whole, suite, dir / "whole", false);
  std::vector<fs::path> shards;
  for (std::int64_t i = 0; i < 3; ++i) {
    FakeRun part;
    shards.push_back(dir / "sharded" / fmt::format("shard-{:03d}-of-003", i));
    run(part, suite, shards.back(), false, {i, 3});
  }
  EXPECT_EQ(find_shard_dirs(dir / "sharded"), shards);
  merge_runs(shards, dir / "sharded");

  const auto a = read_manifest(dir / "whole" / "manifest.jsonl").entries;
  const auto b = read_manifest(dir / "sharded" / "manifest.jsonl").entries;
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].ok, b[i].ok);
    EXPECT_EQ(a[i].images, b[i].images);
    EXPECT_EQ(a[i].error, b[i].error);
  }
  std::size_t compared = 0;
  for (const auto& e : a) {
    if (!e.ok) continue;
    const fs::path x = dir / "whole" / "samples" / e.id;
    const fs::path y = dir / "sharded" / "samples" / e.id;
    EXPECT_EQ(stable_record(x / "record.json"), stable_record(y / "record.json")) << e.id;
    for (const auto& f : fs::directory_iterator(x)) {
      if (f.path().extension() == ".png") {
        EXPECT_EQ(read_file(f.path()), read_file(y / f.path().filename())) << f.path();
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 6u);
  const auto info = io::read_json_file(dir / "sharded" / "run.json");
  EXPECT_EQ(info["shard"]["count"], 1);
  EXPECT_EQ(read_records(dir / "sharded").size(), 6u);
  // Merging twice, or shards of different suites, is refused.
  EXPECT_THROW(merge_runs(shards, dir / "sharded"), UsageError);
  FakeRun other;
  run(other, write_generic_suite(dir / "b", 4), dir / "other" / "shard-001-of-003", false, {1, 3});
  EXPECT_THROW(merge_runs({shards[0], dir / "other" / "shard-001-of-003"}, dir / "m2"),
               UsageError);
}

TEST(BenchRun, InvalidUtf8IsReplacedNotFatal) {
  const std::string bad = std::string("caf") + static_cast<char>(0xC3) + " au lait";
  EXPECT_EQ(dump_json(nlohmann::json(bad)), "\"caf\xEF\xBF\xBD au lait\"");
  ManifestEntry e;
  e.id = "x";
  e.error = bad;
  const fs::path dir = duogen::testing::make_temp_dir("bench-utf8");
  append_manifest_line(dir / "m.jsonl", e);
  const auto back = read_manifest(dir / "m.jsonl");
  ASSERT_EQ(back.entries.size(), 1u);
  EXPECT_EQ(back.entries[0].error, "caf\xEF\xBF\xBD au lait");
}

TEST(BenchRun, ProgressLines) {
  const std::string plain = format_progress({3, 12, 1, 6.0}, false);
  EXPECT_EQ(plain, "[ 3/12]  25.0%  0.50 samples/s  ETA 18s  (1 failed)");
  const std::string bar = format_progress({6, 12, 0, 6.0}, true);
  EXPECT_EQ(bar.rfind("|############............| [ 6/12]", 0), 0u) << bar;
  EXPECT_NE(format_progress({0, 10, 0, 0.0}, false).find("ETA --"), std::string::npos);
  EXPECT_NE(format_progress({1, 400, 0, 60.0}, false).find("ETA 6h39m"), std::string::npos);
}

}  // namespace
}  // namespace duogen::bench
