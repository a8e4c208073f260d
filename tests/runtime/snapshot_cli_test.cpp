// `duogen plan` and `duogen inspect` on diffusers snapshots, run as a user would: the tiny
// Cosmos-Predict2.5 snapshot (text and JSON, weights against the headers, verdicts by budget),
// the real pipeline's config-only snapshot, a sharded transformer, and the errors: usage errors
// (exit 2) naming the option, bad files (exit 1) naming the file.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "runtime/runtime_fixtures.h"
#include "testing/fixtures.h"
#include "testing/process.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::contains;

testing::ProcessResult duogen(std::vector<std::string> args) {
  return testing::run_duogen(std::move(args));
}

std::string tiny_snapshot() { return (testing::data_dir() / "tiny-cosmos2_5").string(); }

// Bytes of every tensor under `dir` at 2 bytes per floating element, `visual.*` apart.
// bf16 bytes of the tensors a stage loads, and of those it leaves out (`visual.*` and an untied
// `lm_head.weight`: the text conditioning reads hidden states only).
std::pair<std::uint64_t, std::uint64_t> bf16_bytes(const fs::path& dir) {
  std::uint64_t kept = 0, visual = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    const auto file = io::SafetensorsFile::open(entry.path());  // outlives the loop
    for (const auto& t : file.tensors()) {
      const std::uint64_t b = static_cast<std::uint64_t>(t.numel()) *
                              (is_floating(t.dtype) ? 2 : element_size(t.dtype));
      (t.name.starts_with("visual.") || t.name == "lm_head.weight" ? visual : kept) += b;
    }
  }
  return {kept, visual};
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream out(path);
  out << j.dump(2);
}

// A copy of the tiny snapshot to break.
class SnapshotCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::make_temp_dir("snapshot-cli");
    fs::copy(tiny_snapshot(), root_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST(SnapshotPlanCli, PrintsTheStagesForTheTinySnapshot) {
  const auto r = duogen({"plan", tiny_snapshot(), "--width", "320", "--height", "192", "--frames",
                         "17", "--budget", "1GiB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"Cosmos2_5_PredictBasePipeline",
                           "text -> world",
                           "17 frame(s)",
                           "latent [1, 16, 5, 24, 40]",
                           "DiT 1200 tokens",
                           "text_encoder",
                           "transformer",
                           "vae",
                           "kv_cache",
                           "encode_pass",
                           "prompt_embeddings",
                           "contexts",
                           "step",
                           "rope_tables",
                           "decode",
                           "not loaded (the text conditioning",
                           "lm_head (",
                           "host",
                           "all resident",
                           "sequential offload",
                           "fits resident",
                           "--vae-tiling",
                           "checkpoint headers"}) {
    EXPECT_TRUE(contains(r.out, part)) << part << " missing from:\n" << r.out;
  }
}

TEST(SnapshotPlanCli, JsonWeightsEqualTheHeadersWithoutVisual) {
  const auto r = duogen({"plan", tiny_snapshot(), "--json", "--frames", "9", "--width", "256",
                         "--height", "256", "--max-sequence-length", "128"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["pipeline"], "Cosmos2_5_PredictBasePipeline");
  EXPECT_EQ(j["options"]["frames"], 9);
  EXPECT_EQ(j["options"]["max_sequence_length"], 128);
  EXPECT_EQ(j["shapes"]["latent_frames"], 3);
  EXPECT_EQ(j["shapes"]["dit_tokens"], 3 * 16 * 16);
  EXPECT_TRUE(j["verdict"].is_null());
  const fs::path root = tiny_snapshot();
  const auto [te, te_visual] = bf16_bytes(root / "text_encoder");
  const auto [dit, dit_visual] = bf16_bytes(root / "transformer");
  const auto [vae, vae_visual] = bf16_bytes(root / "vae");
  ASSERT_GT(te_visual, 0u);
  EXPECT_EQ(dit_visual + vae_visual, 0u);
  ASSERT_EQ(j["stages"].size(), 3u);
  EXPECT_EQ(j["stages"][0]["name"], "text_encoder");
  EXPECT_EQ(j["stages"][0]["weights"].get<std::uint64_t>(), te);
  EXPECT_EQ(j["stages"][1]["weights"].get<std::uint64_t>(), dit);
  EXPECT_EQ(j["stages"][2]["weights"].get<std::uint64_t>(), vae);
  EXPECT_EQ(j["totals"]["weights"].get<std::uint64_t>(), te + dit + vae);
  std::uint64_t peak = 0;
  for (const auto& s : j["stages"]) {
    EXPECT_EQ(s["offload_peak"].get<std::uint64_t>(), s["weights"].get<std::uint64_t>() +
                                                          s["working"].get<std::uint64_t>() +
                                                          s["held"].get<std::uint64_t>());
    peak = std::max(peak, s["offload_peak"].get<std::uint64_t>());
  }
  EXPECT_EQ(j["totals"]["sequential_offload_peak"].get<std::uint64_t>(), peak);
}

TEST(SnapshotPlanCli, TheDitEstimateGrowsWithFrames) {
  std::uint64_t last = 0;
  for (const char* frames : {"1", "9", "33"}) {
    const auto r = duogen({"plan", tiny_snapshot(), "--json", "--frames", frames});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    const auto step = j["stages"][1]["working_parts"]["step"].get<std::uint64_t>();
    EXPECT_GT(step, last) << frames;
    last = step;
  }
}

TEST(SnapshotPlanCli, TheVerdictFollowsTheBudget) {
  const auto plan = [](const std::string& budget) {
    const auto r =
        duogen({"plan", tiny_snapshot(), "--json", "--frames", "17", "--budget", budget});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  };
  const json base = plan("1TiB");
  EXPECT_EQ(base["verdict"]["fit"], "fits resident");
  const auto resident = base["totals"]["all_resident"].get<std::uint64_t>();
  const auto offload = base["totals"]["sequential_offload_peak"].get<std::uint64_t>();
  ASSERT_LT(offload, resident);
  EXPECT_EQ(plan(std::to_string(resident))["verdict"]["fit"], "fits resident");
  const json between = plan(std::to_string(resident - 1));
  EXPECT_NE(between["verdict"]["fit"], "fits resident");
  EXPECT_NE(between["verdict"]["fit"], "does not fit");
  std::uint64_t smallest = resident;
  for (const auto& m : between["verdict"]["modes"]) {
    smallest = std::min(smallest, m["needed"].get<std::uint64_t>());
  }
  const json none = plan(std::to_string(smallest - 1));
  EXPECT_EQ(none["verdict"]["fit"], "does not fit");
  EXPECT_EQ(none["verdict"]["shortfall"], 1);
  // The text names the flags to use and the numbers.
  const auto r =
      duogen({"plan", tiny_snapshot(), "--frames", "17", "--budget", std::to_string(smallest - 1)});
  EXPECT_TRUE(contains(r.out, "does not fit (short by 1 B")) << r.out;
}

TEST(SnapshotPlanCli, RealPipelineFitsTwentyFourGigabytesOnlyWithSequentialOffload) {
  const auto r = duogen({"plan", testing::real_snapshot_dir().string(), "--budget", "24GB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "config only, no weights on disk")) << r.out;
  EXPECT_TRUE(contains(r.out, "latent [1, 16, 24, 88, 160], DiT 84480 tokens")) << r.out;
  EXPECT_TRUE(contains(r.out, "fits only with --sequential-offload")) << r.out;
  const auto big = duogen({"plan", testing::real_snapshot_dir().string(), "--budget", "80GB"});
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_TRUE(contains(big.out, "budget 74.51 GiB: fits resident")) << big.out;
}

TEST(SnapshotPlanCli, UsageErrorsNameTheOption) {
  const std::string s = tiny_snapshot();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"plan", s, "--frames", "0"}, "--frames 0"},
      {{"plan", s, "--frames", "many"}, "--frames"},
      {{"plan", s, "--frames", "600"}, "--frames 600"},
      {{"plan", s, "--width", "1000"}, "--width 1000"},
      {{"plan", s, "--height", "100"}, "--height 100"},
      {{"plan", s, "--width", "4096"}, "RoPE range"},
      {{"plan", s, "--max-sequence-length", "0"}, "--max-sequence-length"},
      {{"plan", s, "--guidance", "-2"}, "--guidance"},
      {{"plan", s, "--budget", "lots"}, "--budget"},
      {{"plan", s, "--max-context", "100"}, "--max-context"},
      {{"plan", s, "--condition-frames", "1"}, "--condition-frames"},
      {{"plan", s, "--mllm", s}, "--mllm"},
      {{"plan", (testing::tiny_model_dir()).string(), "--frames", "9"}, "--frames"},
      {{"plan", (testing::tiny_model_dir()).string(), "--vae-tiling"}, "--vae-tiling"}};
  for (const auto& [args, fragment] : cases) {
    const auto r = duogen(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("duogen {}: {}", fmt::join(args, " "), r.err);
    EXPECT_TRUE(contains(r.err, fragment)) << fragment << " not in: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST_F(SnapshotCopy, AMissingComponentFailsNamingModelIndex) {
  json index = read_json(root_ / "model_index.json");
  index.erase("transformer");
  write_json(root_ / "model_index.json", index);
  for (const char* cmd : {"plan"}) {
    const auto r = duogen({cmd, root_.string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, (root_ / "model_index.json").string())) << r.err;
    EXPECT_TRUE(contains(r.err, "'transformer'")) << r.err;
  }
  // A component directory that is gone.
  index = read_json(tiny_snapshot() + "/model_index.json");
  write_json(root_ / "model_index.json", index);
  fs::remove_all(root_ / "vae");
  for (const char* cmd : {"plan", "inspect"}) {
    const auto r = duogen({cmd, root_.string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, (root_ / "vae").string())) << r.err;
  }
}

TEST_F(SnapshotCopy, ABrokenCheckpointOrConfigFailsNamingTheFile) {
  const fs::path weights = root_ / "transformer" / "diffusion_pytorch_model.safetensors";
  testing::write_bytes(weights, "not a safetensors file");
  auto r = duogen({"plan", root_.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, weights.string())) << r.err;
  r = duogen({"inspect", root_.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, weights.string())) << r.err;

  const fs::path config = root_ / "vae" / "config.json";
  testing::write_bytes(config, "{\"z_dim\": \"sixteen\"}");
  r = duogen({"plan", root_.string(), "--dtype", "fp32"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, config.string())) << r.err;
}

TEST_F(SnapshotCopy, PlanAndInspectReadShardedDiffusersWeights) {
  const fs::path dir = root_ / "transformer";
  const auto file = io::SafetensorsFile::open(dir / "diffusion_pytorch_model.safetensors");
  std::vector<testing::Shard> shards = {{"diffusion_pytorch_model-00001-of-00002.safetensors", {}},
                                        {"diffusion_pytorch_model-00002-of-00002.safetensors", {}}};
  std::size_t i = 0;
  std::uint64_t bytes = 0;
  for (const auto& t : file.tensors()) {
    shards[i++ % 2].tensors.emplace_back(t.name, file.tensor(t.name).clone());
    bytes += t.nbytes;
  }
  const std::size_t count = file.tensors().size();
  fs::remove(dir / "diffusion_pytorch_model.safetensors");
  testing::write_checkpoint(dir, shards, /*with_index=*/true);
  fs::rename(dir / "model.safetensors.index.json",
             dir / "diffusion_pytorch_model.safetensors.index.json");

  const auto r = duogen({"inspect", root_.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  bool found = false;
  for (const auto& c : j["components"]) {
    if (c["name"] != "transformer") continue;
    found = true;
    EXPECT_EQ(c["checkpoint"]["files"].size(), 2u);
    EXPECT_EQ(c["checkpoint"]["tensors"].get<std::size_t>(), count);
    EXPECT_EQ(c["checkpoint"]["bytes"].get<std::uint64_t>(), bytes);
  }
  EXPECT_TRUE(found) << r.out;
  const auto p = duogen({"plan", root_.string(), "--json", "--dtype", "fp32"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(json::parse(p.out)["stages"][1]["weights"].get<std::uint64_t>(), bytes);  // F32
}

TEST(SnapshotInspectCli, TextNamesEveryComponentAndTheScheduler) {
  const auto r = duogen({"inspect", tiny_snapshot()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part :
       {"pipeline: Cosmos2_5_PredictBasePipeline (diffusers 0.42.1)", "text_encoder",
        "Qwen2_5_VLForConditionalGeneration", "transformer", "CosmosTransformer3DModel", "vae",
        "AutoencoderKLWan", "tokenizer", "Qwen2Tokenizer", "scheduler", "UniPCMultistepScheduler",
        "use_karras_sigmas: true", "solver_order: 2", "duogen: supported", "parameters per prefix",
        "crossattn_proj", "visual", "tokenizer.json", "crossattn_proj_in_channels: 64"}) {
    EXPECT_TRUE(contains(r.out, part)) << part << " missing from:\n" << r.out;
  }
}

TEST(SnapshotInspectCli, JsonSummariesEqualTheHeaders) {
  const auto r = duogen({"inspect", tiny_snapshot(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["pipeline"], "Cosmos2_5_PredictBasePipeline");
  ASSERT_EQ(j["components"].size(), 5u);
  for (const auto& c : j["components"]) {
    const fs::path dir = c["directory"].get<std::string>();
    if (c["name"] == "tokenizer" || c["name"] == "scheduler") {
      EXPECT_TRUE(c["checkpoint"].is_null()) << c["name"];
      continue;
    }
    std::uint64_t bytes = 0;
    std::int64_t tensors = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".safetensors") continue;
      const auto file = io::SafetensorsFile::open(entry.path());
      for (const auto& t : file.tensors()) {
        bytes += t.nbytes;
        ++tensors;
      }
    }
    EXPECT_EQ(c["checkpoint"]["bytes"].get<std::uint64_t>(), bytes) << c["name"];
    EXPECT_EQ(c["checkpoint"]["tensors"].get<std::int64_t>(), tensors) << c["name"];
  }
  EXPECT_EQ(j["components"][0]["name"], "scheduler");
  EXPECT_EQ(j["components"][0]["scheduler"]["settings"]["solver_type"], "bh2");
  EXPECT_EQ(j["components"][0]["scheduler"]["duogen"], "supported");
}

TEST_F(SnapshotCopy, InspectReportsARefusedSchedulerKey) {
  json config = read_json(root_ / "scheduler" / "scheduler_config.json");
  config["thresholding"] = true;
  write_json(root_ / "scheduler" / "scheduler_config.json", config);
  const auto r = duogen({"inspect", root_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "duogen: refused: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "thresholding")) << r.out;
}

}  // namespace
}  // namespace duogen
