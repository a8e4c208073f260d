// `duogen plan` run as a user would: the table on a tiny model, JSON that parses and agrees with
// the headers, usage errors (exit 2) for bad sizes, exit 1 naming a missing model directory.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/runtime_fixtures.h"
#include "testing/process.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

testing::ProcessResult duogen(std::vector<std::string> args) {
  return testing::run_duogen(std::move(args));
}

using testing::contains;

TEST(PlanCli, PrintsTheTableForATinyModel) {
  const auto r = duogen(
      {"plan", testing::tiny_model_dir().string(), "--condition-frames", "2", "--budget", "1GiB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part :
       {"component", "mllm", "dit", "vae", "tokenizer", "kv_cache", "all resident", "offload",
        "pinned host", "fits resident", "2 condition frame(s)", "checkpoint headers"}) {
    EXPECT_TRUE(contains(r.out, part)) << part << " missing from:\n" << r.out;
  }
}

TEST(PlanCli, JsonParsesAndCarriesTheOptions) {
  const auto r = duogen({"plan", testing::tiny_model_dir().string(), "--json", "--width", "320",
                         "--height", "192", "--condition-frames", "1", "--max-context", "1000",
                         "--dtype", "fp32", "--device", "cpu", "--budget", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["options"]["width"], 320);
  EXPECT_EQ(j["options"]["height"], 192);
  EXPECT_EQ(j["options"]["max_context"], 1000);
  EXPECT_EQ(j["options"]["device"], "cpu");
  EXPECT_EQ(j["options"]["condition_frames"].size(), 1u);
  EXPECT_EQ(j["components"].size(), 4u);
  EXPECT_GT(j["totals"]["all_resident"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["verdict"]["fit"], "does not fit");
  EXPECT_EQ(j["verdict"]["shortfall"].get<std::uint64_t>(),
            j["totals"]["offload_device_peak"].get<std::uint64_t>() - 1000);
}

TEST(PlanCli, RealShapesFromConfigsAlone) {
  const auto r = duogen({"plan", testing::real_config_dir().string(), "--budget", "80GB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "config only, no weights on disk")) << r.out;
  EXPECT_TRUE(contains(r.out, "fits resident")) << r.out;
}

TEST(PlanCli, BadSizesAreUsageErrors) {
  const std::string model = testing::tiny_model_dir().string();
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"plan", model, "--budget", "12XB"},
                                             {"plan", model, "--budget", "-5GB"},
                                             {"plan", model, "--budget", ""},
                                             {"plan", model, "--reserve", "lots"},
                                             {"plan", model, "--dtype", "int8"},
                                             {"plan", model, "--condition-size", "768"},
                                             {"plan", model, "--width", "0"},
                                             {"plan"}}) {
    const auto r = duogen(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("duogen {}: {}", fmt::join(args, " "), r.err);
    EXPECT_FALSE(r.err.empty());
  }
  const auto r = duogen({"plan", model, "--budget", "12XB"});
  EXPECT_TRUE(contains(r.err, "--budget")) << r.err;
  EXPECT_TRUE(contains(r.err, "12XB")) << r.err;
}

TEST(PlanCli, AMissingModelDirectoryFailsNamingIt) {
  const fs::path missing = fs::temp_directory_path() / "duogen-plan-test-no-such-model";
  const auto r = duogen({"plan", missing.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, missing.string())) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace duogen
