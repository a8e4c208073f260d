// Exporters: the directory layout each official scorer reads, made from fake runs of the
// project's sample suites and of the first GenEval prompts.
#include "bench/export.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "bench/bench_fixtures.h"
#include "duogen/error.h"
#include "io/json_config.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using namespace testing;

fs::path samples_dir() { return duogen::testing::source_dir() / "benchmarks"; }

TEST(BenchExport, GenEvalLayoutWithFourImagesPerPrompt) {
  const fs::path dir = duogen::testing::make_temp_dir("export-geneval");
  const auto lines = lines_of(fs::path(DUOGEN_GENEVAL_DIR) / "evaluation_metadata.jsonl");
  ASSERT_GE(lines.size(), 3u) << DUOGEN_GENEVAL_DIR << ": the GenEval metadata is missing or short";
  write_file(dir / "evaluation_metadata.jsonl", lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n");
  const Suite suite = read_suite(dir / "evaluation_metadata.jsonl");
  FakeRun fake;
  run(fake, suite, dir / "run", false);
  const auto result = export_run(dir / "run", ExportFormat::kGenEval, dir / "out");
  EXPECT_EQ(result.exported, 3u);
  EXPECT_TRUE(result.missing.empty());
  for (int p = 0; p < 3; ++p) {
    const fs::path prompt_dir = dir / "out" / fmt::format("{:05d}", p);
    const auto meta = lines_of(prompt_dir / "metadata.jsonl");
    ASSERT_EQ(meta.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(meta[0]), nlohmann::json::parse(lines[p]));
    std::set<std::string> images;
    for (int k = 0; k < 4; ++k) {
      const fs::path png = prompt_dir / "samples" / fmt::format("{:04d}.png", k);
      ASSERT_TRUE(fs::is_regular_file(png)) << png;
      images.insert(read_file(png));
    }
    EXPECT_EQ(images.size(), 4u);  // distinct seeds give distinct images
    EXPECT_FALSE(fs::exists(prompt_dir / "samples" / "0004.png"));
  }
  // Records from another suite are not GenEval's.
  const Suite generic = write_generic_suite(dir / "g", 1);
  FakeRun other;
  run(other, generic, dir / "grun", false);
  EXPECT_THROW(export_run(dir / "grun", ExportFormat::kGenEval, dir / "gout"), InvalidArgument);
}

TEST(BenchExport, ImgEditAndGEditLayouts) {
  const fs::path dir = duogen::testing::make_temp_dir("export-edit");
  FakeRun a;
  run(a, read_suite(samples_dir() / "edit" / "imgedit_sample.json"), dir / "imgedit", false);
  auto result = export_run(dir / "imgedit", ExportFormat::kImgEdit, dir / "imgedit-out");
  EXPECT_EQ(result.exported, 12u);
  for (int key = 1; key <= 12; ++key) {
    const fs::path png = dir / "imgedit-out" / fmt::format("{}.png", key);
    ASSERT_TRUE(fs::is_regular_file(png)) << png;
    EXPECT_EQ(read_file(png),
              read_file(dir / "imgedit" / "samples" / std::to_string(key) / "image-1.png"));
  }

  FakeRun b;
  const Suite gedit = read_suite(samples_dir() / "edit" / "gedit_sample.jsonl");
  run(b, gedit, dir / "gedit", false);
  ExportOptions options;
  options.model_name = "duogen-test";
  result = export_run(dir / "gedit", ExportFormat::kGEdit, dir / "gedit-out", options);
  EXPECT_EQ(result.exported, 12u);
  for (const auto& s : gedit.samples) {
    const fs::path d = dir / "gedit-out" / "duogen-test" / "fullset" / s.category / "en";
    EXPECT_TRUE(fs::is_regular_file(d / (s.id + ".png"))) << d / (s.id + ".png");
    ASSERT_TRUE(fs::is_regular_file(d / (s.id + "_SRCIMG.png"))) << s.id;
    EXPECT_EQ(read_file(d / (s.id + "_SRCIMG.png")), read_file(s.images[0]));
  }
}

TEST(BenchExport, CoMMTaskFourResults) {
  const fs::path dir = duogen::testing::make_temp_dir("export-comm");
  write_file(dir / "comm.jsonl",
             R"({"id": "c1", "text": "continue", "metadata": {"data_id": "doc-17"}})" "\n"
             R"({"id": "c2", "text": "continue"})" "\n");
  FakeRun fake;
  run(fake, read_suite(dir / "comm.jsonl"), dir / "run", false);
  const auto result = export_run(dir / "run", ExportFormat::kCoMM, dir / "out");
  EXPECT_EQ(result.exported, 2u);
  const auto results = io::read_json_file(dir / "out" / "doc-17_task4" / "results.json");
  EXPECT_EQ(results["data_id"], "doc-17");
  const auto record = io::read_json_file(dir / "run" / "samples" / "c1" / "record.json");
  // Expected string built from the record's own segments: (n) text <IMAGE> per step.
  std::string expected;
  int step = 0;
  bool open = false;
  for (const auto& seg : record["outputs"][0]["segments"]) {
    if (seg["type"] == "text") {
      std::string t = seg["text"].get<std::string>();
      t = t.substr(0, t.find_last_not_of(' ') + 1);
      if (!open) {
        expected += (expected.empty() ? "" : " ") + fmt::format("({})", ++step);
        open = true;
      }
      expected += " " + t;
    } else {
      expected += " <IMAGE>";
      open = false;
    }
  }
  EXPECT_EQ(results["model_output"], expected);
  EXPECT_EQ(results["model_output"].get<std::string>().rfind("(1) ", 0), 0u);
  EXPECT_NE(results["model_output"].get<std::string>().find("<IMAGE> (2) "), std::string::npos);
  EXPECT_EQ(results["images"].size(),
            static_cast<std::size_t>(record["outputs"][0]["segments"].size() == 5 ? 2 : 1));
  EXPECT_TRUE(fs::is_regular_file(dir / "out" / "doc-17_task4" / "0.png"));
  EXPECT_TRUE(fs::is_regular_file(dir / "out" / "c2_task4" / "results.json"));

  // A hand-made record pins the string format itself.
  const nlohmann::json r = {
      {"outputs",
       {{{"segments",
          {{{"type", "text"}, {"text", "  Boil water. "}},
           {{"type", "image"}, {"path", "image-1.png"}},
           {{"type", "image"}, {"path", "image-2.png"}},
           {{"type", "text"}, {"text", "Add pasta."}},
           {{"type", "image"}, {"path", "image-3.png"}},
           {{"type", "text"}, {"text", "Serve."}}}}}}}};
  EXPECT_EQ(comm_model_output(r),
            "(1) Boil water. <IMAGE> (2) <IMAGE> (3) Add pasta. <IMAGE> (4) Serve.");
  EXPECT_THROW(parse_export_format("mmc4"), UsageError);
}

}  // namespace
}  // namespace duogen::bench
