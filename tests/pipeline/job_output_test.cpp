// Job output directories: contents, order, PNG parameters, atomicity.
#include "pipeline/job_output.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "duogen/error.h"
#include "io/image_io.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;

at::Tensor random_image(std::int64_t h, std::int64_t w, std::uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(0, 256, {h, w, 3}, at::kByte);
}

JobResult sample_result(const fs::path& input_image) {
  JobResult r;
  r.job.id = "job-1";
  r.job.source = "jobs.jsonl:1";
  r.job.messages = {{"user",
                     {{ContentPart::Kind::kText, "Make <soup> & bread", {}, {}},
                      {ContentPart::Kind::kImage, {}, input_image, {}}}}};
  r.segments.push_back({OutputSegment::Kind::kText, "Step 1: chop.", {}, {}});
  r.segments.push_back({OutputSegment::Kind::kImage, {}, random_image(8, 12, 1),
                        {{"seed", "42"}, {"steps", "10"}}});
  r.segments.push_back({OutputSegment::Kind::kText, "Step 2: boil.", {}, {}});
  r.segments.push_back({OutputSegment::Kind::kImage, {}, random_image(16, 8, 2), {{"seed", "43"}}});
  r.prompt_tokens = 30;
  r.generated_tokens = 12;
  r.seed = 42;
  r.stop_reason = "eos";
  r.settings = {{"steps", 10}};
  r.timings_s = {{"prefill", 0.5}, {"image", 2.0}};
  return r;
}

class JobOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("job_output");
    io::write_png(dir_ / "in.png", random_image(4, 4, 3));
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(JobOutputTest, WritesImagesResultMarkdownAndHtml) {
  const JobResult r = sample_result(dir_ / "in.png");
  const fs::path out = write_job_outputs(dir_ / "out", r);
  EXPECT_EQ(out, dir_ / "out" / "job-1");
  EXPECT_TRUE(job_finished(dir_ / "out", "job-1"));
  // Generated images: pixels as given, parameters as tEXt chunks.
  EXPECT_TRUE(at::equal(io::read_image_rgb(out / "image-1.png"), r.segments[1].image));
  EXPECT_TRUE(at::equal(io::read_image_rgb(out / "image-2.png"), r.segments[3].image));
  EXPECT_EQ(io::read_png_text(out / "image-1.png"), r.segments[1].image_params);
  // result.json keeps the interleaved order.
  const auto json = nlohmann::json::parse(testing::read_bytes(out / "result.json"));
  ASSERT_EQ(json["output"].size(), 4u);
  EXPECT_EQ(json["output"][0]["text"], "Step 1: chop.");
  EXPECT_EQ(json["output"][1]["path"], "image-1.png");
  EXPECT_EQ(json["output"][1]["width"], 12);
  EXPECT_EQ(json["output"][3]["path"], "image-2.png");
  EXPECT_EQ(json["images"], 2);
  EXPECT_EQ(json["timings_s"]["image"], 2.0);
  EXPECT_EQ(json["prompt"][0]["content"][1]["path"], (dir_ / "in.png").string());
  const std::string md = testing::read_bytes(out / "result.md");
  EXPECT_LT(md.find("Step 1: chop."), md.find("](image-1.png)"));
  EXPECT_LT(md.find("](image-1.png)"), md.find("Step 2: boil."));
  // The page is self-contained (images inlined) and escapes text.
  const std::string html = testing::read_bytes(out / "index.html");
  EXPECT_NE(html.find("Make &lt;soup&gt; &amp; bread"), std::string::npos);
  EXPECT_EQ(html.find("src=\"image-"), std::string::npos);
  std::size_t inlined = 0;
  for (auto at = html.find("src=\"data:image/png;base64,"); at != std::string::npos;
       at = html.find("src=\"data:image/png;base64,", at + 1)) {
    ++inlined;
  }
  EXPECT_EQ(inlined, 3u);  // the input image and both generated ones
  // No staging directory is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ / "out")) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(JobOutputTest, RefusesToOverwriteAFinishedJob) {
  const JobResult r = sample_result(dir_ / "in.png");
  write_job_outputs(dir_ / "out", r);
  EXPECT_THROW(write_job_outputs(dir_ / "out", r), InvalidArgument);
}

TEST_F(JobOutputTest, AFailureLeavesNothingBehind) {
  JobResult r = sample_result(dir_ / "in.png");
  r.segments[3].image = at::zeros({4, 4}, at::kFloat);  // not an image: fails mid-write
  EXPECT_THROW(write_job_outputs(dir_ / "out", r), InvalidArgument);
  EXPECT_FALSE(job_finished(dir_ / "out", "job-1"));
  EXPECT_TRUE(fs::is_empty(dir_ / "out"));
}

TEST(PngText, SameInputGivesIdenticalBytesAndCorruptionIsCaught) {
  const at::Tensor image = random_image(5, 7, 9);
  const io::PngText text = {{"prompt", "a bowl of soup"}, {"seed", "1"}};
  EXPECT_EQ(io::encode_png(image, text), io::encode_png(image, text));
  const fs::path dir = testing::make_temp_dir("png_text");
  std::string bytes = io::encode_png(image, text);
  testing::write_bytes(dir / "ok.png", bytes);
  EXPECT_EQ(io::read_png_text(dir / "ok.png"), text);
  bytes[8 + 25 + 10] ^= 1;  // a byte inside the first tEXt chunk
  testing::write_bytes(dir / "bad.png", bytes);
  EXPECT_THROW(io::read_png_text(dir / "bad.png"), FormatError);
  EXPECT_THROW(io::encode_png(image, {{"", "x"}}), InvalidArgument);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace duogen::pipeline
