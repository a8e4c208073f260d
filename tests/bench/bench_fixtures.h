// Fakes and helpers for the bench tests: a conversation model whose output depends only on the
// seed (so a sample gives the same result whichever shard or order runs it), a run helper, and
// file helpers.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/run.h"
#include "bench/suite.h"
#include "pipeline/interleaved.h"
#include "pipeline/manifest.h"

namespace duogen::bench::testing {

constexpr std::int64_t kBov = 100;
constexpr std::int64_t kEos = 101;

// Thrown by the fake to simulate a kill -9 in the middle of a sample: it is not a
// std::exception, so run_bench does not catch it and writes nothing for the sample.
struct Killed {};

// Per start(): emits "<letter> <BOV> <letter> [<BOV>] <letter>" where the letters and the image
// count come from the seed. A user text containing "FAIL" throws InvalidArgument (a bad
// sample); `kill_at_start` (1-based count of start() calls) throws Killed. A fixed `answer`
// replaces the script (the judge tests): its characters are the tokens.
class SeededConversation : public pipeline::ConversationModel {
 public:
  std::int64_t start(const std::vector<pipeline::Message>& messages,
                     std::uint64_t seed) override;
  std::int64_t sample_next(const pipeline::TextSampling& sampling) override;
  void force_next(std::int64_t) override { ++length_; }
  std::string token_text(std::int64_t token) override;
  std::string flush_text() override { return ""; }
  at::Tensor hidden_states(std::int64_t end) override;
  void append_image(const at::Tensor& rgb) override;
  const pipeline::ContextMarks& marks() const override { return marks_; }
  std::int64_t length() const override { return length_; }
  const std::vector<at::Tensor>& user_images() const override { return user_images_; }

  std::int64_t starts = 0;
  std::int64_t kill_at_start = 0;  // 0: never
  std::string answer;              // non-empty: emit this text (judge tests)
  std::vector<std::string> seen_texts;  // the last user text of every start()

 private:
  std::vector<std::int64_t> script_;
  std::size_t next_ = 0;
  std::int64_t length_ = 0;
  pipeline::ContextMarks marks_;
  std::vector<at::Tensor> user_images_;
};

class SeededImageModel : public pipeline::ImageModel {
 public:
  at::Tensor generate(const pipeline::ImageRequest& request, const pipeline::ProgressFn& progress,
                      std::vector<std::pair<std::string, double>>& timings) override;
};

// The small settings the tests run with (16x16 images, 2 steps).
pipeline::ModelManifest test_manifest();

struct FakeRun {
  SeededConversation mllm;
  SeededImageModel images;
  pipeline::ModelManifest manifest = test_manifest();
  BenchModels models();
};

// A generic suite of `n` text samples "s00".."s<n-1>" (sample k's text holds "FAIL" when k is
// in `failing`), written to `dir`/suite.jsonl and read back.
Suite write_generic_suite(const std::filesystem::path& dir, int n,
                          const std::vector<int>& failing = {});

BenchSummary run(FakeRun& fake, const Suite& suite, const std::filesystem::path& out,
                 bool resume, Shard shard = {});

// record.json without the run-dependent timings ("seconds", "timings_s").
nlohmann::json stable_record(const std::filesystem::path& record_file);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& text);
std::vector<std::string> lines_of(const std::filesystem::path& path);

}  // namespace duogen::bench::testing
