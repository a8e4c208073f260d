// The public API (duogen/duogen.h) on a tiny model written at test time: what generate() returns
// and streams is what `duogen generate` (run_batch) writes; cancellation from a callback or
// another thread stops a job without spoiling the next; check() names bad fields; a Cosmos
// snapshot makes images only.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "duogen/duogen.h"
#include "testing/expect_error.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(duogen::testing::make_temp_dir("api"));
    TinyModelOptions tiny;
    tiny.tokenizer_dir = DUOGEN_QWEN_TOKENIZER_DIR;
    write_tiny_model(*root_ / "tiny-model", tiny);
    EngineOptions options;
    options.model = *root_ / "tiny-model";
    engine_ = Engine::load(options).release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    fs::remove_all(*root_);
    delete root_;
  }

  // A short answer that opens one image early (<BOV> pushed up), small and quick.
  static Job job(const std::string& id = "job") {
    Job j;
    j.id = id;
    j.messages = {{"user", {text_part("Draw a red circle, then describe it.")}}};
    j.options.seed = 3;
    j.options.steps = 3;
    j.options.width = 32;
    j.options.height = 32;
    j.options.max_new_tokens = 12;
    j.options.max_images = 1;
    j.options.logit_bias = {{"<BOV>", 12.0}};
    return j;
  }

  static std::string text_of(const GenerationResult& r) {
    std::string text;
    for (const auto& p : r.parts) text += p.text;
    return text;
  }

  static fs::path* root_;
  static Engine* engine_;
};

fs::path* EngineTest::root_ = nullptr;
Engine* EngineTest::engine_ = nullptr;

TEST_F(EngineTest, InfoNamesTheModelAndItsDefaults) {
  const ModelInfo& info = engine_->info();
  EXPECT_EQ(info.id, "tiny-model");
  EXPECT_EQ(info.kind, ModelKind::kDuoGen);
  EXPECT_EQ(info.device, "cpu");
  EXPECT_EQ(info.defaults.steps, 8);  // init-tiny's duogen.json defaults
  EXPECT_EQ(info.defaults.max_new_tokens, 64);
  EXPECT_TRUE(info.defaults.solver.has_value());
}

TEST_F(EngineTest, StreamsWhatItReturnsAndWritesWhatRunBatchWrites) {
  std::string streamed;
  std::vector<std::pair<std::size_t, std::int64_t>> progress;
  std::vector<std::string> streamed_pngs;
  GenerationCallbacks on;
  on.on_text = [&](std::string_view piece) { streamed += piece; };
  on.on_image_progress = [&](std::size_t image, std::int64_t step, std::int64_t steps) {
    EXPECT_EQ(steps, 3);
    progress.emplace_back(image, step);
  };
  on.on_image = [&](std::size_t, const Image& image) { streamed_pngs.push_back(encode_png(image)); };
  const GenerationResult r = engine_->generate(job("same"), on);

  ASSERT_EQ(r.images, 1u);
  EXPECT_EQ(r.parts.front().kind, OutputPart::Kind::kImage);  // <BOV> came first
  EXPECT_EQ(streamed, text_of(r));
  EXPECT_EQ(progress, (std::vector<std::pair<std::size_t, std::int64_t>>{{1, 1}, {1, 2}, {1, 3}}));
  ASSERT_EQ(streamed_pngs.size(), 1u);
  const Image& image = r.parts.front().image;
  EXPECT_EQ(image.width, 32);
  EXPECT_EQ(image.height, 32);
  EXPECT_EQ(streamed_pngs[0], encode_png(image));
  EXPECT_GT(r.prompt_tokens, 0);
  EXPECT_GT(r.completion_tokens, 0);
  EXPECT_EQ(r.seed, 3u);

  // The batch path (`duogen generate`) writes the same PNG bytes and text for the same job.
  BatchOptions batch;
  batch.out_dir = *root_ / "batch";
  const BatchSummary summary = engine_->run_batch({job("same")}, batch);
  EXPECT_EQ(summary.finished, 1);
  EXPECT_EQ(read_bytes(batch.out_dir / "same" / "image-1.png"), encode_png(image));
  const std::string result_json = read_bytes(batch.out_dir / "same" / "result.json");
  if (!text_of(r).empty()) EXPECT_NE(result_json.find(text_of(r).substr(0, 3)), std::string::npos);
  // A second run resumes: the finished job is skipped.
  EXPECT_EQ(engine_->run_batch({job("same")}, batch).skipped, 1);

  // And save_png writes exactly encode_png's bytes.
  save_png(*root_ / "saved.png", image);
  EXPECT_EQ(read_bytes(*root_ / "saved.png"), encode_png(image));
  EXPECT_EQ(decode_image(encode_png(image)).rgb, image.rgb);
}

TEST_F(EngineTest, CancelledFromACallbackThenTheNextJobIsUnaffected) {
  const GenerationResult expected = engine_->generate(job());
  std::stop_source stop;
  GenerationCallbacks on;
  on.on_image_progress = [&](std::size_t, std::int64_t step, std::int64_t) {
    if (step == 1) stop.request_stop();
  };
  const std::string message =
      testing::message_of<Cancelled>([&] { engine_->generate(job(), on, stop.get_token()); });
  EXPECT_NE(message.find("cancelled"), std::string::npos) << message;

  // Cancelled before it starts.
  std::stop_source early;
  early.request_stop();
  testing::message_of<Cancelled>([&] { engine_->generate(job(), {}, early.get_token()); });

  const GenerationResult again = engine_->generate(job());
  EXPECT_EQ(text_of(again), text_of(expected));
  ASSERT_EQ(again.images, 1u);
  EXPECT_EQ(again.parts.front().image.rgb, expected.parts.front().image.rgb);
}

TEST_F(EngineTest, CancelledFromAnotherThreadDuringDecoding) {
  Job long_job = job();
  // No image and no end of turn: it would decode far longer than the test waits.
  long_job.options.logit_bias = {{"<|im_end|>", -1e6}, {"<|endoftext|>", -1e6}};
  long_job.options.max_images = 0;
  long_job.options.max_new_tokens = 100000;
  std::stop_source stop;
  std::atomic<int> pieces{0};
  std::atomic<bool> done{false};
  GenerationCallbacks on;
  on.on_text = [&](std::string_view) { ++pieces; };
  std::thread canceller([&] {
    while (pieces.load() < 3 && !done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop.request_stop();
  });
  testing::message_of<Cancelled>([&] { engine_->generate(long_job, on, stop.get_token()); });
  done = true;
  canceller.join();
  EXPECT_GE(pieces.load(), 3);
}

TEST_F(EngineTest, GenerateImageMakesExactlyOneImage) {
  Job j = job();
  j.options.logit_bias.clear();
  const GenerationResult r = engine_->generate_image(j);
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].kind, OutputPart::Kind::kImage);
  EXPECT_EQ(r.stop_reason, "image_only");
  EXPECT_EQ(r.images, 1u);
}

// The field a FieldError names ("" and a test failure if `f` throws none).
template <typename F>
std::string field_of(F&& f) {
  try {
    f();
  } catch (const FieldError& e) {
    return e.field();
  }
  ADD_FAILURE() << "no FieldError";
  return {};
}

TEST_F(EngineTest, CheckNamesTheBadField) {
  const auto checked = [](auto edit) {
    Job j = job();
    edit(j);
    return field_of([&] { engine_->check(j); });
  };
  EXPECT_EQ(checked([](Job& j) { j.options.steps = 0; }), "steps");
  EXPECT_EQ(checked([](Job& j) { j.options.width = 40; }), "width");
  EXPECT_EQ(checked([](Job& j) { j.options.logit_bias = {{"no-such-token-here", 1.0}}; }),
            "logit_bias");
  EXPECT_EQ(checked([](Job& j) { j.id = "bad id/.."; }), "id");
  // generate() checks too, before anything runs.
  Job j = job();
  j.messages.push_back({"assistant", {text_part("hi")}});
  EXPECT_EQ(field_of([&] { engine_->generate(j); }), "messages[1]");
}

TEST_F(EngineTest, CountsTheAttentionBackendOfEveryCallSite) {
  (void)engine_->generate(job("attention"));
  const auto calls = engine_->stats().attention_calls;
  // The prompt, the decoded tokens, the generated image's DiT steps and its VAE decode.
  for (const char* site : {"llm_prefill", "llm_decode", "dit_self", "vae_mid"}) {
    ASSERT_TRUE(calls.contains(site)) << site;
  }
  EXPECT_TRUE(calls.contains("dit_cross") || calls.contains("dit_cross_varlen"));
  for (const auto& [site, backends] : calls) {
    // CPU tensors: the reference, always.
    EXPECT_EQ(backends.size(), 1u) << site;
    EXPECT_GT(backends.count("reference"), 0u) << site;
  }
}

TEST_F(EngineTest, ALongRunKeepsNoMoreThanItsLargestJob) {
  // Four different jobs (prompt lengths, 0-2 images of two sizes), four rounds: what the engine
  // keeps between jobs must be the same after every round, not grow with the job count.
  std::vector<Job> jobs;
  for (int i = 0; i < 4; ++i) {
    Job j = job("long-" + std::to_string(i));
    j.messages = {{"user", {text_part(std::string(1 + 12 * i, 'a') + " Draw it.")}}};
    j.options.max_images = i % 3;
    j.options.max_new_tokens = 8 + 4 * i;
    j.options.width = i % 2 == 0 ? 32 : 48;
    jobs.push_back(j);
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> retained;  // bytes, tokens
  for (int round = 0; round < 4; ++round) {
    for (const Job& j : jobs) (void)engine_->generate(j);
    const EngineStats s = engine_->stats();
    retained.emplace_back(s.retained_bytes, s.retained_tokens);
  }
  EXPECT_GT(retained.front().first, 0);
  EXPECT_GT(retained.front().second, 0);
  for (std::size_t r = 1; r < retained.size(); ++r) {
    EXPECT_EQ(retained[r], retained.front()) << "after round " << r + 1;
  }
}

TEST(EngineLoad, ABadAttentionTableIsRefusedByFileAndField) {
  const fs::path dir = duogen::testing::make_temp_dir("api-table");
  const fs::path table = dir / "table.json";
  std::ofstream(table) << R"({"format": "duogen-attention-table", "version": 1, "device": "x",
    "compute_capability": "9.0", "measurements": [{"site": "dit_self", "dtype": "bf16",
    "head_dim": 128, "causal": false, "varlen": false, "seqlen_q": 1, "seqlen_k": 1,
    "ms": {"flash9": 1.0}}]})";
  EngineOptions options;
  options.model = duogen::testing::data_dir() / "tiny-cosmos2_5";
  options.attention_table = table;
  try {
    Engine::load(options);
    ADD_FAILURE() << "the table was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(table.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("measurements[0].ms.flash9"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

TEST(EngineLoad, ErrorsNameWhatIsWrong) {
  EngineOptions options;
  options.model = "/nonexistent/model";
  EXPECT_THROW(Engine::load(options), Error);
  EXPECT_THROW(detect_model("/nonexistent/model"), InvalidArgument);
  options.model = duogen::testing::data_dir() / "tiny-cosmos2_5";
  options.device = "tpu";
  EXPECT_THROW(Engine::load(options), InvalidArgument);
}

TEST(EngineSnapshot, ACosmosSnapshotMakesImagesOnly) {
  EngineOptions options;
  options.model = duogen::testing::data_dir() / "tiny-cosmos2_5";
  const auto engine = Engine::load(options);
  EXPECT_EQ(engine->info().kind, ModelKind::kCosmosSnapshot);
  Job j;
  j.id = "cone";
  j.messages = {{"user", {text_part("a blue cone")}}};
  j.options.width = 48;
  j.options.height = 32;
  j.options.steps = 2;
  j.options.seed = 5;
  EXPECT_THROW(engine->generate(j), InvalidArgument);
  int steps = 0;
  GenerationCallbacks on;
  on.on_image_progress = [&](std::size_t image, std::int64_t, std::int64_t) {
    EXPECT_EQ(image, 1u);
    ++steps;
  };
  const GenerationResult r = engine->generate_image(j, on);
  EXPECT_EQ(steps, 2);
  ASSERT_EQ(r.images, 1u);
  EXPECT_EQ(r.parts[0].image.width, 48);
  EXPECT_EQ(r.parts[0].image.height, 32);
  // Options the snapshot cannot honour are refused by name.
  j.options.temperature = 0.5;
  EXPECT_EQ(field_of([&] { engine->check(j); }), "temperature");
}

}  // namespace
}  // namespace duogen
