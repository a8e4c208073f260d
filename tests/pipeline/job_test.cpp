// Job files: the OpenAI-style format, options, and the errors users see for malformed files.
#include "pipeline/job.h"

#include <gtest/gtest.h>

#include "duogen/error.h"
#include "io/image_io.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

#include <ATen/ATen.h>

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;

class JobFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("jobs");
    io::write_png(dir_ / "dish.png", at::zeros({4, 6, 3}, at::kByte));
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) const {
    testing::write_bytes(dir_ / name, text);
    return dir_ / name;
  }

  // The FormatError message for a one-job .json file holding `text`.
  std::string error_for(const std::string& text) const {
    try {
      read_job_file(write("bad.json", text));
    } catch (const FormatError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no FormatError for " << text;
    return "";
  }

  fs::path dir_;
};

TEST_F(JobFileTest, ReadsAJsonJobWithImagesAndOptions) {
  const auto jobs = read_job_file(write("recipe.json", R"({
    "messages": [
      {"role": "system", "content": "You illustrate recipes."},
      {"role": "user", "content": [{"type": "text", "text": "Cook this"},
                                   {"type": "image", "path": "dish.png"},
                                   {"type": "image_url", "image_url": {"url": "file://dish.png"}}]}],
    "seed": 7, "steps": 12, "guidance": 4.5, "width": 512, "height": 384,
    "max_new_tokens": 64, "max_images": 3, "temperature": 0.7, "top_k": 20, "top_p": 0.9,
    "min_p": 0.05, "repetition_penalty": 1.1, "solver": "euler", "schedule": "karras",
    "logit_bias": {"<BOV>": 5, "151643": -100.5}})"));
  ASSERT_EQ(jobs.size(), 1u);
  const Job& job = jobs[0];
  EXPECT_EQ(job.id, "recipe");  // the file's stem
  ASSERT_EQ(job.messages.size(), 2u);
  EXPECT_EQ(job.messages[0].content[0].text, "You illustrate recipes.");
  const auto& parts = job.messages[1].content;
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].kind, ContentPart::Kind::kImage);
  EXPECT_EQ(parts[1].image_path, (fs::absolute(dir_) / "dish.png").lexically_normal());
  EXPECT_EQ(parts[2].image_path, parts[1].image_path);
  const JobOptions& o = job.options;
  EXPECT_EQ(o.seed, 7u);
  EXPECT_EQ(o.steps, 12);
  EXPECT_EQ(o.guidance, 4.5);
  EXPECT_EQ(o.width, 512);
  EXPECT_EQ(o.height, 384);
  EXPECT_EQ(o.top_k, 20);
  EXPECT_EQ(o.solver, "euler");
  EXPECT_EQ(o.schedule, "karras");
  ASSERT_EQ(o.logit_bias.size(), 2u);
  EXPECT_EQ(o.logit_bias[0], (std::pair<std::string, double>{"151643", -100.5}));
  EXPECT_EQ(o.logit_bias[1], (std::pair<std::string, double>{"<BOV>", 5.0}));
}

TEST_F(JobFileTest, ReadsJsonLinesWithIdsAndInlineImages) {
  const auto jobs = read_job_file(write("batch.jsonl",
      "{\"id\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"one\"}]}\n"
      "\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", "
      "\"image_url\": {\"url\": \"data:image/png;base64,iVBORw0KGgo=\"}}]}]}\n"));
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "a");
  EXPECT_EQ(jobs[1].id, "batch-3");  // stem + line number when the line has no id
  EXPECT_EQ(jobs[1].messages[0].content[0].image_bytes, "\x89PNG\r\n\x1a\n");
  EXPECT_NE(jobs[1].source.find("batch.jsonl:3"), std::string::npos);
}

TEST_F(JobFileTest, ErrorsNameTheFileJobAndField) {
  const std::string user = R"("messages": [{"role": "user", "content": "hi"}])";
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {"{" + user + ", \"steps\": 0}", {"bad.json", "'steps'", "[1, 1000]"}},
      {"{" + user + ", \"stepz\": 3}", {"'stepz'", "unknown option"}},
      {"{" + user + ", \"width\": 500}", {"'width'", "multiple of 16"}},
      {"{" + user + ", \"top_p\": 0}", {"'top_p'"}},
      {"{" + user + ", \"guidance\": \"high\"}", {"'guidance'", "must be a number"}},
      {"{" + user + ", \"id\": \"../x\"}", {"'id'", "../x"}},
      {"{" + user + ", \"logit_bias\": [1]}", {"'logit_bias'"}},
      {R"({"messages": []})", {"'messages'"}},
      {R"({"messages": [{"role": "robot", "content": "x"}]})", {"messages[0].role", "robot"}},
      {R"({"messages": [{"role": "user", "content": [{"type": "image", "path": "nope.png"}]}]})",
       {"messages[0].content[0].path", "not found", "nope.png"}},
      {R"({"messages": [{"role": "user", "content": [{"type": "video", "path": "a"}]}]})",
       {"content[0].type", "video"}},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]})",
       {"remote URL"}},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@@"}}]}]})",
       {"base64"}},
      {R"({"messages": [{"role": "assistant", "content": "x"}]})", {"last message"}},
      {R"({"messages": [{"role": "user", "content": "x"}], )", {"bad.json", "not valid JSON"}},
      {R"([1, 2])", {"must be a JSON object"}},
  };
  for (const auto& [text, fragments] : cases) {
    const std::string message = error_for(text);
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message '" << message << "' lacks '" << fragment << "' for " << text;
    }
  }
}

TEST_F(JobFileTest, DuplicateIdsEmptyFilesAndMissingFilesAreErrors) {
  EXPECT_THROW(read_job_file(write("dup.jsonl",
                                   "{\"id\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n"
                                   "{\"id\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}\n")),
               FormatError);
  EXPECT_THROW(read_job_file(write("empty.jsonl", "\n\n")), FormatError);
  EXPECT_THROW(read_job_file(dir_ / "missing.json"), IoError);
}

TEST(JobOptions, MergeLetsOverridesWinAndConcatenatesBiases) {
  JobOptions base;
  base.steps = 35;
  base.guidance = 7.0;
  base.logit_bias = {{"<BOV>", 1.0}};
  JobOptions job;
  job.steps = 10;
  job.logit_bias = {{"<BOV>", 3.0}};
  const JobOptions merged = merge_options(base, job);
  EXPECT_EQ(merged.steps, 10);
  EXPECT_EQ(merged.guidance, 7.0);
  ASSERT_EQ(merged.logit_bias.size(), 2u);
  EXPECT_EQ(merged.logit_bias.back().second, 3.0);
}

}  // namespace
}  // namespace duogen::pipeline
