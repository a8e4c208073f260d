// The built `duogen` binary, run as a user would: exit codes (0 ok, 1 failure, 2 usage), messages
// on stderr, and `inspect` reports checked against the checkpoint the test wrote.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "duogen/version.h"
#include "io/safetensors.h"
#include "testing/fixtures.h"
#include "testing/process.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;

testing::ProcessResult duogen(std::vector<std::string> args) {
  return testing::run_duogen(std::move(args));
}

using testing::contains;

TEST(Cli, PrintsItsVersion) {
  const auto r = duogen({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, std::string("duogen ") + version())) << r.out;
  EXPECT_TRUE(contains(r.out, torch_version())) << r.out;
}

TEST(Cli, UsageErrorsExitWithTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"--no-such-option"}, {"no-such-command"}, {"inspect"},
           {"-v", "loud", "inspect", "x"}, {"inspect", "a", "b"}}) {
    const auto r = duogen(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("duogen {}: {}", fmt::join(args, " "), r.err);
    EXPECT_FALSE(r.err.empty()) << fmt::format("duogen {}", fmt::join(args, " "));
  }
}

TEST(Cli, InspectHelpExitsWithZero) {
  const auto r = duogen({"inspect", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "--json")) << r.out;
}

TEST(Cli, InspectOfAMissingPathFailsNamingIt) {
  const fs::path missing = fs::temp_directory_path() / "duogen-cli-test-no-such-checkpoint";
  const auto r = duogen({"inspect", missing.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, missing.string())) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Cli, InspectRejectsEveryMalformedCorpusEntry) {
  const auto cases = testing::malformed_cases();
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const auto r = duogen({"inspect", (testing::malformed_dir() / c.path).string()});
    EXPECT_EQ(r.signal, 0) << c.path << ": killed by signal " << r.signal << "\n" << r.err;
    EXPECT_EQ(r.exit_code, 1) << c.path << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.path)) << c.path << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.fragment)) << c.path << ": " << r.err;
  }
}

class CliInspect : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("cli");
    using testing::random_tensor;
    shards_ = {{"model-00001-of-00002.safetensors",
                {{"model.embed.weight", random_tensor(DType::kBF16, {16, 8}, 1)},
                 {"model.layers.0.mlp.weight", random_tensor(DType::kBF16, {8, 8}, 2)},
                 {"visual.patch.weight", random_tensor(DType::kF32, {3, 2, 2}, 3)}}},
               {"model-00002-of-00002.safetensors",
                {{"visual.norm", random_tensor(DType::kF32, {3}, 4)},
                 {"lm_head.weight", random_tensor(DType::kF16, {16, 8}, 5)},
                 {"step", random_tensor(DType::kI64, {}, 6)}}}};
    testing::write_checkpoint(dir_, shards_, /*with_index=*/true);
    config_ = {{"model_type", "duogen_test"},
               {"hidden_size", 8},
               {"vision_config", {{"depth", 2}, {"not_summarized", 1}}}};
    testing::write_bytes(dir_ / "config.json", config_.dump());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // What the report should say, computed from the tensors written.
  json expected_report() const {
    struct Sums {
      std::int64_t count = 0;  // parameters for a prefix, tensors for a dtype
      std::uint64_t bytes = 0;
    };
    std::map<std::string, Sums> prefixes;
    std::map<std::string, Sums> dtypes;
    Sums total;
    std::int64_t tensors = 0;
    for (const auto& shard : shards_) {
      for (const auto& [name, t] : shard.tensors) {
        const std::uint64_t nbytes = t.numel() * t.element_size();
        auto& p = prefixes[name.substr(0, name.find('.'))];
        p.count += t.numel();
        p.bytes += nbytes;
        auto& d = dtypes[std::string(safetensors_name(from_scalar_type(t.scalar_type())))];
        d.count += 1;
        d.bytes += nbytes;
        total.count += t.numel();
        total.bytes += nbytes;
        tensors += 1;
      }
    }
    json r = {{"tensors", tensors}, {"parameters", total.count}, {"bytes", total.bytes}};
    for (const auto& [prefix, p] : prefixes) {
      r["prefixes"][prefix] = {{"parameters", p.count}, {"bytes", p.bytes}};
    }
    for (const auto& [dtype, d] : dtypes) {
      r["dtypes"][dtype] = {{"tensors", d.count}, {"bytes", d.bytes}};
    }
    return r;
  }

  fs::path dir_;
  std::vector<testing::Shard> shards_;
  json config_;
};

TEST_F(CliInspect, JsonReportMatchesTheCheckpoint) {
  const auto r = duogen({"inspect", dir_.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);  // stdout must be pure JSON: logs go to stderr
  const json expected = expected_report();
  for (const char* key : {"tensors", "parameters", "bytes", "prefixes", "dtypes"}) {
    EXPECT_EQ(report.at(key), expected.at(key)) << key;
  }
  ASSERT_EQ(report.at("files").size(), shards_.size());
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    const fs::path shard = dir_ / shards_[i].file_name;
    EXPECT_EQ(report["files"][i]["path"], shard.string());
    EXPECT_EQ(report["files"][i]["tensors"], shards_[i].tensors.size());
    EXPECT_EQ(report["files"][i]["bytes"], fs::file_size(shard));
  }
  EXPECT_EQ(report["config"]["model_type"], config_["model_type"]);
  EXPECT_EQ(report["config"]["hidden_size"], config_["hidden_size"]);
  EXPECT_EQ(report["config"]["vision_config"], json({{"depth", config_["vision_config"]["depth"]}}));
}

TEST_F(CliInspect, TextReportMatchesTheCheckpoint) {
  const auto r = duogen({"inspect", dir_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json expected = expected_report();
  EXPECT_TRUE(contains(r.out, fmt::format("tensors: {}\n", expected["tensors"].get<int>())))
      << r.out;
  EXPECT_TRUE(contains(r.out, fmt::format("parameters: {} (", expected["parameters"].get<int>())))
      << r.out;
  for (const auto& [prefix, _] : expected["prefixes"].items()) {
    EXPECT_TRUE(contains(r.out, "  " + prefix + " ")) << prefix << " missing in:\n" << r.out;
  }
  for (const auto& [dtype, d] : expected["dtypes"].items()) {
    EXPECT_TRUE(contains(r.out, fmt::format("  {:<8} {:>6} tensors", dtype, d["tensors"].get<int>())))
        << dtype << " missing in:\n" << r.out;
  }
}

TEST_F(CliInspect, LogLevelOptionFiltersWarnings) {
  // A tensor the index does not list draws a warning.
  auto shard = shards_[0];
  shard.tensors.emplace_back("unlisted", testing::random_tensor(DType::kU8, {1}, 7));
  io::write_safetensors(dir_ / shard.file_name, shard.tensors);
  const auto loud = duogen({"inspect", dir_.string()});
  EXPECT_EQ(loud.exit_code, 0) << loud.err;
  EXPECT_TRUE(contains(loud.err, "'unlisted'")) << loud.err;
  const auto quiet = duogen({"--log-level", "error", "inspect", dir_.string()});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_FALSE(contains(quiet.err, "'unlisted'")) << quiet.err;
  EXPECT_EQ(quiet.out, loud.out);
}

TEST_F(CliInspect, InspectsASingleFile) {
  const fs::path file = dir_ / shards_[1].file_name;
  const auto r = duogen({"-v", "error", "inspect", file.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["tensors"], shards_[1].tensors.size());
  EXPECT_TRUE(report["config"].is_null());  // config.json is only read for directories
}

}  // namespace
}  // namespace duogen
