// Running job lists: option precedence, outputs per job, resume, and a failing job that does
// not stop the others.
#include "pipeline/runner.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "duogen/error.h"
#include "pipeline/fake_models.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;
using fakes::kBov;
using fakes::kEos;

std::optional<std::int64_t> lookup(const std::string& token) {
  if (token == "<BOV>") return kBov;
  if (!token.empty() && token.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoll(token);
  }
  return std::nullopt;
}

Job make_job(const std::string& id) {
  Job j;
  j.id = id;
  j.source = "test";
  ContentPart part;
  part.text = "hello";
  j.messages.push_back({"user", {part}});
  return j;
}

ModelManifest manifest() {
  ModelManifest m;
  m.defaults = builtin_defaults();
  m.bov_token_id = kBov;
  m.defaults.width = 32;
  m.defaults.height = 16;
  m.defaults.steps = 2;
  return m;
}

TEST(Runner, OptionsResolveDefaultsThenCommandLineThenJob) {
  ModelManifest m = manifest();
  m.defaults.guidance = 3.0;
  JobOptions cli;
  cli.steps = 9;
  cli.guidance = 4.0;
  Job job = make_job("a");
  job.options.guidance = 5.0;
  job.options.logit_bias = {{"<BOV>", 2.5}, {"42", -1.0}};
  const InterleavedSettings s = resolve_settings(m, cli, job, lookup, {kEos});
  EXPECT_EQ(s.image.steps, 9);        // command line over duogen.json
  EXPECT_EQ(s.image.guidance, 5.0);   // the job over the command line
  EXPECT_EQ(s.image.width, 32);       // duogen.json
  EXPECT_EQ(s.max_new_tokens, 1024);  // built in
  ASSERT_EQ(s.text.logit_bias.size(), 2u);
  EXPECT_EQ(s.text.logit_bias[0], (std::pair<std::int64_t, double>{kBov, 2.5}));
  job.options.logit_bias = {{"<NOPE>", 1.0}};
  try {
    resolve_settings(m, cli, job, lookup, {kEos});
    ADD_FAILURE() << "unknown token accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("<NOPE>"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("job 'a'"), std::string::npos) << e.what();
  }
}

TEST(Runner, WritesEachJobResumesAndRecordsFailures) {
  const fs::path out = duogen::testing::make_temp_dir("runner");
  Job bad = make_job("bad");
  bad.options.logit_bias = {{"<NOPE>", 1.0}};
  const std::vector<Job> jobs = {make_job("first"), bad, make_job("second")};
  RunOptions options;
  options.out_dir = out;
  {
    fakes::ScriptedConversation mllm({0, kBov, 1, kEos});
    fakes::RecordingImageModel images;
    const RunSummary s =
        run_jobs(jobs, manifest(), mllm, images, lookup, {kEos}, options);
    EXPECT_EQ(s.finished, 2);
    ASSERT_EQ(s.failures.size(), 1u);
    EXPECT_EQ(s.failures[0].first, "bad");
  }
  EXPECT_TRUE(job_finished(out, "first"));
  EXPECT_TRUE(job_finished(out, "second"));
  EXPECT_FALSE(fs::exists(out / "bad"));
  EXPECT_TRUE(fs::exists(out / "first" / "image-1.png"));
  const auto json = nlohmann::json::parse(testing::read_bytes(out / "first" / "result.json"));
  EXPECT_EQ(json["settings"]["steps"], 2);
  EXPECT_EQ(json["output"].size(), 3u);  // "a", image, "b"
  {
    // A second run skips the finished jobs and retries the failed one.
    fakes::ScriptedConversation mllm({0, kEos});
    fakes::RecordingImageModel images;
    const RunSummary s = run_jobs(jobs, manifest(), mllm, images, lookup, {kEos}, options);
    EXPECT_EQ(s.skipped, 2);
    EXPECT_EQ(s.finished, 0);
    EXPECT_EQ(s.failures.size(), 1u);
    EXPECT_TRUE(images.requests.empty());
  }
  options.keep_going = false;
  fakes::ScriptedConversation mllm({kEos});
  fakes::RecordingImageModel images;
  EXPECT_THROW(run_jobs({bad}, manifest(), mllm, images, lookup, {kEos}, options), FormatError);
  fs::remove_all(out);
}

}  // namespace
}  // namespace duogen::pipeline
