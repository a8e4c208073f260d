#include "bench/bench_fixtures.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "duogen/error.h"
#include "io/json_config.h"

namespace duogen::bench::testing {

namespace fs = std::filesystem;

std::int64_t SeededConversation::start(const std::vector<pipeline::Message>& messages,
                                       std::uint64_t seed) {
  ++starts;
  if (kill_at_start != 0 && starts == kill_at_start) throw Killed{};
  std::string text;
  for (const auto& part : messages.back().content) {
    if (part.kind == pipeline::ContentPart::Kind::kText) text = part.text;
  }
  seen_texts.push_back(text);
  if (text.find("FAIL") != std::string::npos) {
    throw InvalidArgument("the fake model refuses this sample");
  }
  script_.clear();
  next_ = 0;
  if (!answer.empty()) {
    for (const unsigned char c : answer) script_.push_back(200 + c);
  } else {
    script_ = {static_cast<std::int64_t>(seed % 26), kBov,
               static_cast<std::int64_t>((seed / 26) % 26)};
    if (seed % 2 == 1) script_.push_back(kBov);  // a second image for odd seeds
    script_.push_back(static_cast<std::int64_t>((seed / 7) % 26));
  }
  script_.push_back(kEos);
  length_ = 10;
  marks_ = {3, 8, {}};
  return length_;
}

std::int64_t SeededConversation::sample_next(const pipeline::TextSampling& sampling) {
  std::int64_t t = next_ < script_.size() ? script_[next_++] : kEos;
  for (const auto& [id, bias] : sampling.logit_bias) {
    if (id == t && bias < -1e30) t = 25;  // a banned <BOV> becomes 'z'
  }
  ++length_;
  return t;
}

std::string SeededConversation::token_text(std::int64_t token) {
  if (token >= 200) return std::string(1, static_cast<char>(token - 200));
  return std::string(1, static_cast<char>('a' + token)) + " ";
}

at::Tensor SeededConversation::hidden_states(std::int64_t end) {
  return at::zeros({2, end, 4}, at::kFloat);
}

void SeededConversation::append_image(const at::Tensor&) {
  length_ += 5;
  marks_.image_ends.push_back(length_ - 1);
}

at::Tensor SeededImageModel::generate(const pipeline::ImageRequest& request,
                                      const pipeline::ProgressFn&,
                                      std::vector<std::pair<std::string, double>>& timings) {
  timings.emplace_back("dit", 0.001);
  // A gradient offset by the seed: distinct images for distinct seeds.
  const auto x = at::arange(request.width, at::kLong).view({1, request.width, 1});
  const auto y = at::arange(request.height, at::kLong).view({request.height, 1, 1});
  const auto c = at::arange(3, at::kLong).view({1, 1, 3});
  return ((x * 7 + y * 13 + c * 50 + static_cast<std::int64_t>(request.seed)) % 256)
      .to(at::kByte)
      .contiguous();
}

pipeline::ModelManifest test_manifest() {
  pipeline::ModelManifest m;
  m.defaults = pipeline::builtin_defaults();
  m.bov_token_id = kBov;
  m.defaults.width = 16;
  m.defaults.height = 16;
  m.defaults.steps = 2;
  return m;
}

BenchModels FakeRun::models() {
  BenchModels m;
  m.model = &manifest;
  m.mllm = &mllm;
  m.images = &images;
  m.lookup = [](const std::string& token) -> std::optional<std::int64_t> {
    if (token == "<BOV>") return kBov;
    return std::nullopt;
  };
  m.stop_token_ids = {kEos};
  return m;
}

Suite write_generic_suite(const fs::path& dir, int n, const std::vector<int>& failing) {
  fs::create_directories(dir);
  std::string text;
  for (int k = 0; k < n; ++k) {
    const bool fail = std::find(failing.begin(), failing.end(), k) != failing.end();
    nlohmann::json line = {{"id", fmt::format("s{:02d}", k)},
                           {"text", fmt::format("sample {}{}", k, fail ? " FAIL" : "")},
                           {"category", k % 2 == 0 ? "even" : "odd"}};
    text += line.dump() + "\n";
  }
  write_file(dir / "suite.jsonl", text);
  return read_suite(dir / "suite.jsonl");
}

BenchSummary run(FakeRun& fake, const Suite& suite, const fs::path& out, bool resume,
                 Shard shard) {
  BenchOptions options;
  options.out_dir = out;
  options.resume = resume;
  options.shard = shard;
  return run_bench(suite, fake.models(), options);
}

nlohmann::json stable_record(const fs::path& record_file) {
  nlohmann::json r = io::read_json_file(record_file);
  r.erase("seconds");
  for (auto& out : r["outputs"]) out.erase("timings_s");
  return r;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace duogen::bench::testing
