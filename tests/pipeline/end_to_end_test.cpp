// The whole product on the tiny checkpoint `duogen init-tiny` writes: interleaved generation with
// two images (the second conditioned on the first), text-to-image, editing with two references
// of different sizes, determinism, the context after an image appended mid-decode, and the CLI's
// errors for bad input. Random weights never choose <BOV> on their own, so jobs that want images
// put a logit bias on it, as the README's example does.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/image_io.h"
#include "io/png_text.h"
#include "models/qwen2_5_vl/image_processor.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "pipeline/duogen_image_model.h"
#include "pipeline/qwen_conversation.h"
#include "pipeline/runner.h"
#include "pipeline/tiny_model.h"
#include "runtime/memory_plan.h"
#include "runtime/residency.h"
#include "testing/fixtures.h"
#include "testing/process.h"
#include "testing/test_paths.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;

// One tiny model for the whole suite: writing it takes a few seconds.
class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(duogen::testing::make_temp_dir("e2e"));
    TinyModelOptions options;
    options.tokenizer_dir = DUOGEN_QWEN_TOKENIZER_DIR;
    write_tiny_model(*root_ / "model", options);
    manifest_ = new ModelManifest(read_manifest(*root_ / "model"));
    mllm_ = new QwenConversation(*manifest_, {});
    images_ = new DuoGenImageModel(*manifest_, {});
  }
  static void TearDownTestSuite() {
    delete images_;
    delete mllm_;
    delete manifest_;
    fs::remove_all(*root_);
    delete root_;
  }

  static Job job(const std::string& id, const std::vector<fs::path>& pictures,
                 const std::string& text) {
    Job j;
    j.id = id;
    j.source = "test";
    Message m{"user", {}};
    for (const auto& p : pictures) {
      ContentPart part;
      part.kind = ContentPart::Kind::kImage;
      part.image_path = p;
      m.content.push_back(part);
    }
    ContentPart t;
    t.text = text;
    m.content.push_back(t);
    j.messages.push_back(m);
    return j;
  }

  static RunSummary run(const std::vector<Job>& jobs, const fs::path& out, bool image_only,
                        const JobOptions& cli) {
    RunOptions options;
    options.out_dir = out;
    options.cli = cli;
    options.image_only = image_only;
    options.keep_going = false;
    const auto lookup = [](const std::string& t) { return mllm_->token_id(t); };
    return run_jobs(jobs, *manifest_, *mllm_, *images_, lookup, mllm_->stop_token_ids(), options);
  }

  static JobOptions small() {
    JobOptions o;
    o.steps = 2;
    o.width = 64;
    o.height = 48;
    return o;
  }

  static fs::path* root_;
  static ModelManifest* manifest_;
  static QwenConversation* mllm_;
  static DuoGenImageModel* images_;
};

fs::path* EndToEndTest::root_ = nullptr;
ModelManifest* EndToEndTest::manifest_ = nullptr;
QwenConversation* EndToEndTest::mllm_ = nullptr;
DuoGenImageModel* EndToEndTest::images_ = nullptr;

nlohmann::json result_of(const fs::path& dir) {
  return nlohmann::json::parse(duogen::testing::read_bytes(dir / "result.json"));
}

TEST_F(EndToEndTest, InterleavedTextWithTwoImages) {
  JobOptions o = small();
  o.max_new_tokens = 12;
  o.max_images = 2;
  o.logit_bias = {{"<BOV>", 1e4}};  // a random model picks <BOV> only when pushed
  ASSERT_EQ(run({job("story", {}, "Tell a story in pictures.")}, *root_ / "interleaved", false, o)
                .finished,
            1);
  const auto r = result_of(*root_ / "interleaved" / "story");
  ASSERT_EQ(r["images"], 2);
  const auto second = io::read_png_text(*root_ / "interleaved" / "story" / "image-2.png");
  // The second image was conditioned on the first.
  EXPECT_NE(std::find(second.begin(), second.end(),
                      std::pair<std::string, std::string>{"condition_frames", "1"}),
            second.end());
  const at::Tensor image = io::read_image_rgb(*root_ / "interleaved" / "story" / "image-1.png");
  EXPECT_EQ(image.size(0), 48);
  EXPECT_EQ(image.size(1), 64);
  EXPECT_GT(image.to(at::kFloat).std().item<float>(), 0.0f);  // not a blank image
}

// A long run does not grow: the condition latents of a finished job are released when the next
// job conditions on anything (the cache holds only images still in use).
TEST_F(EndToEndTest, ConditionLatentsOfFinishedJobsAreReleased) {
  JobOptions o = small();
  o.max_new_tokens = 8;
  o.max_images = 3;
  o.logit_bias = {{"<BOV>", 1e4}};
  for (int i = 0; i < 3; ++i) {
    const std::string id = "growth-" + std::to_string(i);
    ASSERT_EQ(run({job(id, {}, "Three pictures.")}, *root_ / "growth", false, o).finished, 1);
    // Images 2 and 3 conditioned on the earlier ones: at most this job's two are cached.
    EXPECT_LE(images_->cached_condition_latents(), 2u) << id;
  }
}

TEST_F(EndToEndTest, TextToImageAndEditWithTwoReferencesOfDifferentSizes) {
  io::write_png(*root_ / "a.png", at::randint(0, 256, {40, 56, 3}, at::kByte));
  io::write_png(*root_ / "b.png", at::randint(0, 256, {64, 32, 3}, at::kByte));
  ASSERT_EQ(run({job("t2i", {}, "a red bowl"),
                 job("edit", {*root_ / "a.png", *root_ / "b.png"}, "combine them")},
                *root_ / "images", true, small())
                .finished,
            2);
  EXPECT_EQ(result_of(*root_ / "images" / "t2i")["images"], 1);
  const auto params = io::read_png_text(*root_ / "images" / "edit" / "image-1.png");
  EXPECT_NE(std::find(params.begin(), params.end(),
                      std::pair<std::string, std::string>{"condition_frames", "2"}),
            params.end());
}

TEST_F(EndToEndTest, SameSeedGivesIdenticalPngBytes) {
  JobOptions o = small();
  o.seed = 5;
  run({job("x", {}, "a cat")}, *root_ / "det1", true, o);
  run({job("x", {}, "a cat")}, *root_ / "det2", true, o);
  EXPECT_EQ(duogen::testing::read_bytes(*root_ / "det1" / "x" / "image-1.png"),
            duogen::testing::read_bytes(*root_ / "det2" / "x" / "image-1.png"));
  o.seed = 6;
  run({job("x", {}, "a cat")}, *root_ / "det3", true, o);
  EXPECT_NE(duogen::testing::read_bytes(*root_ / "det1" / "x" / "image-1.png"),
            duogen::testing::read_bytes(*root_ / "det3" / "x" / "image-1.png"));
}

// Offload mode under a budget that holds the MLLM and the DiT but not the VAE as well: the
// components are evicted and loaded again as the interleaved loop moves between them, the device
// total never exceeds the budget, and the output is byte for byte the resident run's.
TEST_F(EndToEndTest, OffloadModeGivesTheSameOutputUnderABudget) {
  JobOptions o = small();
  o.max_new_tokens = 12;
  o.max_images = 2;
  o.logit_bias = {{"<BOV>", 1e4}};
  const Job story = job("story", {}, "Tell a story in pictures.");
  ASSERT_EQ(run({story}, *root_ / "resident", false, o).finished, 1);

  const runtime::ModelDescription d = runtime::describe_model(*manifest_);
  const std::uint64_t mllm = d.mllm_weights.bytes(at::kFloat);
  const std::uint64_t dit = d.dit_weights.bytes(at::kFloat);
  const std::uint64_t vae = d.vae_weights.bytes(at::kFloat);
  ASSERT_GT(vae, dit);  // the budget below then evicts something for the VAE
  const auto residency = std::make_shared<runtime::ResidencyManager>(mllm + vae);
  QwenConversation offloaded_mllm(*manifest_, {at::kFloat, at::kCPU, 4096, residency, nullptr});
  DuoGenImageModel offloaded_images(*manifest_, {at::kFloat, at::kCPU, residency, nullptr});
  EXPECT_TRUE(residency->resident().empty());  // loaded once to validate, then off the device

  RunOptions options;
  options.out_dir = *root_ / "offloaded";
  options.cli = o;
  options.keep_going = false;
  const auto lookup = [&](const std::string& t) { return offloaded_mllm.token_id(t); };
  ASSERT_EQ(run_jobs({story}, *manifest_, offloaded_mllm, offloaded_images, lookup,
                     offloaded_mllm.stop_token_ids(), options)
                .finished,
            1);
  for (const char* file : {"image-1.png", "image-2.png", "result.md"}) {
    SCOPED_TRACE(file);
    EXPECT_EQ(duogen::testing::read_bytes(*root_ / "offloaded" / "story" / file),
              duogen::testing::read_bytes(*root_ / "resident" / "story" / file));
  }
  EXPECT_GT(offloaded_mllm.weight_loads(), 2);  // evicted for the images, loaded again after
  EXPECT_GT(offloaded_images.vae_loads(), 1);
  EXPECT_LE(residency->peak_device_bytes(), mllm + vae);
  EXPECT_GE(residency->peak_device_bytes(), mllm);

  // A budget below one component fails when the models are set up, naming it.
  const auto tiny_budget = std::make_shared<runtime::ResidencyManager>(mllm - 1);
  try {
    QwenConversation too_big(*manifest_, {at::kFloat, at::kCPU, 4096, tiny_budget, nullptr});
    ADD_FAILURE() << "no error for a budget below the MLLM's weights";
  } catch (const runtime::BudgetError& e) {
    EXPECT_NE(std::string(e.what()).find("mllm"), std::string::npos) << e.what();
  }
}

// After <BOV> and an appended image, the next-token logits equal those of one fresh prefill of
// the whole token sequence (the image's vision features included).
TEST_F(EndToEndTest, ImageAppendedMidDecodeEqualsAFreshPrefill) {
  mllm_->start(job("ctx", {}, "Draw, then describe.").messages, 1);
  mllm_->force_next(manifest_->bov_token_id);
  const at::Tensor image = at::randint(0, 256, {56, 84, 3}, at::kByte);
  mllm_->append_image(image);
  const at::Tensor incremental = mllm_->next_logits().clone();

  const auto model = qwen2_5_vl::Model::load(manifest_->mllm);
  const auto vision = qwen2_5_vl::VisionTower::load(manifest_->mllm, at::kFloat);
  auto processor_config = qwen2_5_vl::ImageProcessorConfig::from_directory(manifest_->mllm);
  processor_config.max_side = manifest_->mllm_max_side;
  const auto processed = qwen2_5_vl::ImageProcessor(processor_config).process({image});
  const at::Tensor g = processed.grid_thw;
  qwen2_5_vl::ChunkInput all(at::tensor(mllm_->tokens(), at::kLong),
                             vision.forward(processed.pixel_values, g),
                             {{g[0][0].item<std::int64_t>(), g[0][1].item<std::int64_t>(),
                               g[0][2].item<std::int64_t>()}});
  auto session = model.new_session();
  const at::Tensor fresh = model.forward(session, all).logits;
  // fp32 on CPU, the same kernels over a differently chunked KV cache: ~1e-6 relative.
  EXPECT_TRUE(at::allclose(incremental, fresh, 1e-4, 1e-5))
      << (incremental - fresh).abs().max().item<float>();
}

// Parts that do not belong together are refused when loaded, naming both.
TEST_F(EndToEndTest, MismatchedComponentsAreRefused) {
  images_->check_context_width(mllm_->config().text.num_hidden_layers,
                               mllm_->config().text.hidden_size, manifest_->mllm);
  ModelManifest other = *manifest_;
  other.dit = duogen::testing::data_dir() / "tiny-cosmos_dit";  // its connector reads 60 channels
  const DuoGenImageModel mismatched(other, {});
  try {
    mismatched.check_context_width(mllm_->config().text.num_hidden_layers,
                                   mllm_->config().text.hidden_size, manifest_->mllm);
    ADD_FAILURE() << "a 60-channel connector accepted a 2 x 64 MLLM";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny-cosmos_dit"), std::string::npos) << e.what();
  }
}

class CliErrorsTest : public EndToEndTest {};

TEST_F(CliErrorsTest, BadInputGivesClearErrorsAndNoPartialOutput) {
  const auto duogen = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {duogen::testing::duogen_binary().string(), "-v", "warn"});
    return duogen::testing::run_process(args);
  };
  const std::string model = (*root_ / "model").string();
  const fs::path out = *root_ / "cli-out";
  duogen::testing::write_bytes(*root_ / "bad.jsonl",
                               "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n"
                               "{\"messages\": [], \"steps\": 3}\n");
  auto r = duogen({"generate", "--model", model, "--prompts", (*root_ / "bad.jsonl").string(),
                   "--out", out.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.jsonl:2"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  duogen::testing::write_bytes(
      *root_ / "missing.json",
      R"({"messages": [{"role": "user", "content": [{"type": "image", "path": "nope.png"}]}]})");
  r = duogen({"generate", "--model", model, "--prompts", (*root_ / "missing.json").string(),
              "--out", out.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.png"), std::string::npos) << r.err;
  r = duogen({"t2i", "--model", model, "--prompt", "x", "--out", (out / "x.png").string(),
              "--steps", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // out of range
  r = duogen({"t2i", "--model", model, "--prompt", "x", "--out", (out / "x.png").string(),
              "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // unknown option
  r = duogen({"edit", "--model", model, "--prompt", "x", "--out", (out / "x.png").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // edit without an image
  duogen::testing::write_bytes(*root_ / "corrupt.png", "not a png");
  r = duogen({"edit", "--model", model, "--image", (*root_ / "corrupt.png").string(), "--prompt",
              "x", "--out", (out / "x.png").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("corrupt.png"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "x.png"));
  r = duogen({"t2i", "--model", model, "--prompt", "x", "--out", (out / "x.png").string(),
              "--offload", "10G"});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // GB or GiB?
  EXPECT_NE(r.err.find("--offload"), std::string::npos) << r.err;
  r = duogen({"t2i", "--model", model, "--prompt", "x", "--out", (out / "x.png").string(),
              "--offload", "1MiB"});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the MLLM alone is larger
  EXPECT_NE(r.err.find("offload: mllm needs"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "x.png"));
  // Working runs through the binary, for the CLI wiring itself; offload mode with a budget that
  // holds any one component gives the same PNG.
  r = duogen({"t2i", "--model", model, "--prompt", "a bowl", "--out",
              (out / "offloaded.png").string(), "--steps", "1", "--width", "32", "--height", "32",
              "--offload", "40MiB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = duogen({"t2i", "--model", model, "--prompt", "a bowl", "--out", (out / "ok.png").string(),
              "--steps", "1", "--width", "32", "--height", "32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(io::read_image_rgb(out / "ok.png").size(0), 32);
  EXPECT_EQ(duogen::testing::read_bytes(out / "ok.png"),
            duogen::testing::read_bytes(out / "offloaded.png"));
}

// `duogen chat --image` (the Qwen2.5-VL CLI) streams exactly the greedy text the library's
// conversation produces for the same image and prompt.
TEST_F(CliErrorsTest, ChatWithAnImageMatchesTheLibrary) {
  io::write_png(*root_ / "chat.png", at::randint(0, 256, {40, 56, 3}, at::kByte));
  const auto r = duogen::testing::run_process(
      {duogen::testing::duogen_binary().string(), "-v", "warn", "chat", "--model",
       (*root_ / "model" / "mllm").string(), "--image", (*root_ / "chat.png").string(),
       "--prompt", "What is this?", "--max-new-tokens", "6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Job j = job("chat", {*root_ / "chat.png"}, "What is this?");
  // The library's conversation caps images at 480 px; this one is smaller, so both see it as is.
  mllm_->start(j.messages, 0);
  const auto stops = mllm_->stop_token_ids();
  std::string text;
  for (int i = 0; i < 6; ++i) {
    const std::int64_t t = mllm_->sample_next({});
    if (stops.count(t) != 0) break;
    text += mllm_->token_text(t);
  }
  text += mllm_->flush_text();
  EXPECT_EQ(r.out, text + "\n");
}

// `duogen bench` on the GEdit sample suite with the tiny model: one record and one image per
// sample; a resumed run skips them all.
TEST_F(CliErrorsTest, BenchRunsASuiteAndResumes) {
  const fs::path out = *root_ / "bench";
  const std::vector<std::string> args = {
      duogen::testing::duogen_binary().string(), "-v", "warn", "bench", "--model",
      (*root_ / "model").string(), "--suite",
      (duogen::testing::source_dir() / "benchmarks" / "edit" / "gedit_sample.jsonl").string(),
      "--out", out.string(), "--steps", "1", "--width", "32", "--height", "32"};
  auto r = duogen::testing::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::size_t samples = 0;
  for (const auto& entry : fs::directory_iterator(out / "samples")) {
    ++samples;
    EXPECT_TRUE(fs::exists(entry.path() / "record.json")) << entry.path();
    EXPECT_TRUE(fs::exists(entry.path() / "image-1.png")) << entry.path();
  }
  EXPECT_EQ(samples, 12u);
  const std::string manifest = duogen::testing::read_bytes(out / "manifest.jsonl");
  std::vector<std::string> resumed = args;
  resumed.push_back("--resume");
  r = duogen::testing::run_process(resumed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(duogen::testing::read_bytes(out / "manifest.jsonl"), manifest);  // nothing redone
}

}  // namespace
}  // namespace duogen::pipeline
