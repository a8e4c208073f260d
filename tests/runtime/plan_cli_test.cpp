// `duogen plan` run as a user would: the table on a tiny model, JSON that parses and agrees with
// the headers, components given one by one (--mllm/--dit/--vae over or instead of duogen.json),
// usage errors (exit 2) for bad sizes, exit 1 naming a missing model directory. Snapshots:
// snapshot_cli_test.cpp.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/runtime_fixtures.h"
#include "testing/fixtures.h"
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

TEST(PlanCli, ComponentsGivenOneByOne) {
  const fs::path model = testing::tiny_model_dir();
  const auto plan = [](std::vector<std::string> args) {
    args.insert(args.begin(), "plan");
    args.push_back("--json");
    const auto r = duogen(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? json::parse(r.out) : json();
  };
  const json whole = plan({model.string(), "--width", "256", "--height", "256"});
  // Instead of duogen.json: the same plan from the same three directories.
  const json parts = plan({"--mllm", (model / "mllm").string(), "--dit", (model / "dit").string(),
                           "--vae", (model / "vae").string(), "--width", "256", "--height", "256"});
  EXPECT_EQ(parts["model"], "");
  EXPECT_EQ(parts["component_paths"]["mllm"], (model / "mllm").string());
  EXPECT_EQ(parts["component_paths"]["tokenizer"], (model / "mllm").string());  // from --mllm
  EXPECT_EQ(parts["totals"], whole["totals"]);
  // Over duogen.json: --vae replaces only the VAE (here by the tiny Cosmos snapshot's, whose
  // weights differ), the rest stays the manifest's.
  const fs::path other_vae = testing::data_dir() / "tiny-cosmos2_5" / "vae";
  const json over = plan({model.string(), "--vae", other_vae.string()});
  EXPECT_NE(over["model"], "");
  EXPECT_EQ(over["component_paths"]["vae"], other_vae.string());
  EXPECT_EQ(over["component_paths"]["dit"], whole["component_paths"]["dit"]);
  ASSERT_EQ(over["components"].size(), 4u);
  ASSERT_EQ(over["components"][2]["name"], "vae");
  EXPECT_NE(over["components"][2]["weights"], whole["components"][2]["weights"]);
  EXPECT_EQ(over["components"][1]["weights"], whole["components"][1]["weights"]);
  // The text names the three paths when there is no duogen.json.
  const auto r = duogen({"plan", "--mllm", (model / "mllm").string(), "--dit",
                         (model / "dit").string(), "--vae", (model / "vae").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "model: mllm " + (model / "mllm").string())) << r.out;
}

TEST(PlanCli, ComponentErrors) {
  const fs::path model = testing::tiny_model_dir();
  // Not all three without MODEL_DIR: a usage error naming what to give.
  auto r = duogen({"plan", "--mllm", (model / "mllm").string(), "--dit", (model / "dit").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--vae")) << r.err;
  // A path that is not there.
  const fs::path missing = fs::temp_directory_path() / "duogen-plan-test-no-such-vae";
  r = duogen({"plan", model.string(), "--vae", missing.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--vae " + missing.string())) << r.err;
  // A directory without duogen.json: the message offers the component options, which now work.
  const fs::path bare = testing::make_temp_dir("plan-bare");
  r = duogen({"plan", bare.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--mllm, --dit and --vae")) << r.err;
  fs::remove_all(bare);
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
