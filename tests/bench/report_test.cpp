// report.html: the gallery, scores, throughput and failures of a run.
#include "bench/report.h"

#include <gtest/gtest.h>

#include "bench/bench_fixtures.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using namespace testing;

TEST(Report, ThroughputArithmetic) {
  const std::vector<nlohmann::json> records = {
      {{"outputs",
        {{{"generated_tokens", 30},
          {"timings_s", {{"decode", 2.0}, {"image_total", 3.0}}},
          {"segments", {{{"type", "text"}}, {{"type", "image"}}, {{"type", "image"}}}}}}}},
      {{"outputs",
        {{{"generated_tokens", 10},
          {"timings_s", {{"decode", 2.0}, {"image_total", 6.0}}},
          {"segments", {{{"type", "image"}}}}}}}}};
  ManifestEntry ok{"a", 0, true, "", 5.0, 2, 30};
  ManifestEntry ok2{"b", 1, true, "", 8.0, 1, 10};
  ManifestEntry bad{"c", 2, false, "boom", 1.5, 0, 0};
  const Throughput t = compute_throughput(records, {ok, ok2, bad});
  EXPECT_EQ(t.samples, 2);
  EXPECT_EQ(t.failed, 1);
  EXPECT_EQ(t.images, 3);
  EXPECT_DOUBLE_EQ(t.tokens_per_s(), 40.0 / 4.0);
  EXPECT_DOUBLE_EQ(t.seconds_per_image(), 9.0 / 3.0);
  EXPECT_DOUBLE_EQ(t.total_s, 14.5);
}

TEST(Report, GalleryWithScoresAndFailures) {
  const fs::path dir = duogen::testing::make_temp_dir("report");
  FakeRun fake;
  run(fake, write_generic_suite(dir, 3, {1}), dir / "run", false);
  JudgeScore s = split_custom_id("s00/T-Com");
  s.score = 4;
  s.raw = "fine <ok>";
  write_scores(scores_file(dir / "run"), {s});
  const fs::path page = write_report(dir / "run");
  EXPECT_EQ(page, dir / "run" / "report.html");
  const std::string html = read_file(page);
  EXPECT_NE(html.find("id=\"s00\""), std::string::npos);
  EXPECT_NE(html.find("id=\"s02\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"s01\""), std::string::npos);  // failed: listed, not in the gallery
  EXPECT_NE(html.find("<h2>Failures</h2>"), std::string::npos);
  EXPECT_NE(html.find("the fake model refuses this sample"), std::string::npos);
  EXPECT_NE(html.find("src=\"samples/s00/image-1.png\""), std::string::npos);
  EXPECT_NE(html.find("T-Com 4</span>"), std::string::npos);
  EXPECT_NE(html.find("title=\"fine &lt;ok&gt;\""), std::string::npos);  // escaped
  EXPECT_NE(html.find("text tokens/s"), std::string::npos);
  EXPECT_NE(html.find("seconds per image"), std::string::npos);
  EXPECT_NE(html.find("total time"), std::string::npos);
}

}  // namespace
}  // namespace duogen::bench
