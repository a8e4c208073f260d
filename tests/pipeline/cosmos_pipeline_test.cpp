// The whole Cosmos-Predict2.5 pipeline on the tiny published-layout snapshot
// (tools/reference/make_tiny_cosmos_snapshot.py) against diffusers' Cosmos2_5_PredictBasePipeline
// __call__ (tools/reference/dump_cosmos_pipeline.py): text -> image, text -> world, image -> world
// and video -> world, every intermediate (token ids, prompt embeddings, noise, condition latents,
// final latents, decoded video, frames) within the dump's tolerance (1e-4: ~13x fp32's own error
// against a float64 run of the reference, stated in the dumper).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "duogen/error.h"
#include "io/pipeline_snapshot.h"
#include "pipeline/cosmos/world_pipeline.h"
#include "testing/test_paths.h"
#include "verify/reference_dump.h"
#include "verify/verifier.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
namespace cosmos = pipeline::cosmos;

fs::path snapshot_dir() { return testing::data_dir() / "tiny-cosmos2_5"; }
fs::path dump(const std::string& mode) {
  return testing::data_dir() / ("reference/cosmos_pipeline." + mode + ".safetensors");
}

class CosmosPipelineParity : public ::testing::TestWithParam<const char*> {};

TEST_P(CosmosPipelineParity, EqualsDiffusersThroughout) {
  verify::VerifyOptions options;
  options.model = snapshot_dir();
  options.reference = dump(GetParam());
  const verify::VerifyReport report = verify::run_verify(options);
  EXPECT_TRUE(report.passed());
  std::set<std::string> names;
  for (const auto& c : report.outputs) {
    names.insert(c.name);
    EXPECT_TRUE(c.passed) << c.name << " rel " << c.rel_error;
  }
  // Every stage is compared, not only the end result.
  for (const char* n :
       {"input_ids", "prompt_embeds", "initial_latents", "latents", "video", "frames"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes,
                         CosmosPipelineParity,
                         ::testing::Values("t2i", "t2w", "i2w", "v2w"));

// The Hugging Face cache layout: every file a symlink into blobs/, the revision named by
// refs/main. The run reads through the links and gives the same result.
TEST(CosmosPipeline, RunsFromTheHuggingFaceCacheLayout) {
  const fs::path repo = testing::make_temp_dir("hf-cache") / "models--org--tiny-cosmos";
  const fs::path rev = repo / "snapshots" / "0123abcd";
  fs::create_directories(repo / "blobs");
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(snapshot_dir())) {
    const fs::path rel = fs::relative(e.path(), snapshot_dir());
    if (e.is_directory()) {
      fs::create_directories(rev / rel);
      continue;
    }
    const fs::path blob = repo / "blobs" / ("blob" + std::to_string(n++));
    fs::copy_file(e.path(), blob);
    fs::create_directories((rev / rel).parent_path());
    fs::create_symlink(fs::relative(blob, (rev / rel).parent_path()), rev / rel);
  }
  fs::create_directories(repo / "refs");
  std::ofstream(repo / "refs" / "main") << "0123abcd";
  verify::VerifyOptions options;
  options.model = repo;
  options.reference = dump("t2i");
  EXPECT_TRUE(verify::run_verify(options).passed());
  fs::remove_all(repo.parent_path());
}

// The tolerance separates real differences: another seed, guidance or negative prompt moves the
// final latents by far more than the 1e-4 the parity test allows.
TEST(CosmosPipeline, TheGoldensTellSettingsApart) {
  const verify::ReferenceDump d = verify::ReferenceDump::load(dump("t2w"));
  cosmos::WorldRequest r;
  r.prompt = d.metadata.at("prompt");
  r.negative_prompt = d.metadata.at("negative_prompt");
  r.height = std::stoll(d.metadata.at("height"));
  r.width = std::stoll(d.metadata.at("width"));
  r.num_frames = std::stoll(d.metadata.at("num_frames"));
  r.steps = std::stoi(d.metadata.at("num_inference_steps"));
  r.guidance = std::stod(d.metadata.at("guidance_scale"));
  r.seed = std::stoull(d.metadata.at("seed"));
  r.max_sequence_length = std::stoll(d.metadata.at("max_sequence_length"));
  auto pipe = cosmos::WorldPipeline::load(io::read_pipeline_snapshot(snapshot_dir()), {});
  const at::Tensor& expected = d.expected.at("latents");
  const auto rel = [&](const at::Tensor& latents) {
    return (latents - expected).norm().item<double>() / expected.norm().item<double>();
  };
  EXPECT_LT(rel(pipe.run(r).latents), 1e-4);
  auto changed = r;
  changed.seed += 1;
  EXPECT_GT(rel(pipe.run(changed).latents), 1e-2);
  changed = r;
  changed.guidance = 3.0;
  EXPECT_GT(rel(pipe.run(changed).latents), 1e-2);
  changed = r;
  changed.negative_prompt.reset();  // the default negative prompt
  EXPECT_GT(rel(pipe.run(changed).latents), 1e-3);
}

TEST(CosmosPipeline, TwoCfgCallsEqualOneBatchedCall) {
  cosmos::WorldRequest r;
  r.prompt = "a red cube on a table";
  r.height = 32;
  r.width = 48;
  r.num_frames = 5;
  r.steps = 3;
  cosmos::WorldPipelineOptions batched, separate;
  separate.batch_cfg = false;
  const auto snapshot = io::read_pipeline_snapshot(snapshot_dir());
  const at::Tensor a = cosmos::WorldPipeline::load(snapshot, batched).run(r).latents;
  const at::Tensor b = cosmos::WorldPipeline::load(snapshot, separate).run(r).latents;
  EXPECT_LT((a - b).abs().max().item<double>() / b.abs().max().item<double>(), 1e-5);
}

TEST(CosmosPipeline, SequentialOffloadGivesTheSameResult) {
  cosmos::WorldRequest r;
  r.prompt = "a blue sphere";
  r.height = 32;
  r.width = 32;
  r.num_frames = 1;
  r.steps = 2;
  cosmos::WorldPipelineOptions offload;
  offload.sequential_offload = true;
  const auto snapshot = io::read_pipeline_snapshot(snapshot_dir());
  const auto a = cosmos::WorldPipeline::load(snapshot, {}).run(r);
  const auto b = cosmos::WorldPipeline::load(snapshot, offload).run(r);
  EXPECT_TRUE(at::equal(a.frames, b.frames));
}

TEST(CosmosPipeline, BadRequestsNameTheField) {
  auto pipe = cosmos::WorldPipeline::load(io::read_pipeline_snapshot(snapshot_dir()), {});
  const auto error_of = [&](const cosmos::WorldRequest& r) {
    try {
      pipe.run(r);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  cosmos::WorldRequest ok;
  ok.prompt = "x";
  ok.height = 32;
  ok.width = 32;
  ok.num_frames = 9;
  ok.steps = 2;
  auto r = ok;
  r.width = 40;
  EXPECT_NE(error_of(r).find("multiples of 16"), std::string::npos);
  r = ok;
  r.video = at::zeros({3, 16, 16, 3}, at::kByte);  // 5 frames needed for 2 latent frames
  EXPECT_NE(error_of(r).find("has 3 frames"), std::string::npos);
  r.num_latent_conditional_frames = 3;
  EXPECT_NE(error_of(r).find("'num_latent_conditional_frames'"), std::string::npos);
  r = ok;
  r.image = at::zeros({16, 16, 4}, at::kByte);
  EXPECT_NE(error_of(r).find("'image' must be uint8 [H, W, 3]"), std::string::npos);
  r.video = at::zeros({5, 16, 16, 3}, at::kByte);
  EXPECT_NE(error_of(r).find("not both"), std::string::npos);
  r = ok;
  r.steps = 1;  // Karras sigmas need two
  EXPECT_NE(error_of(r).find("at least 2 inference steps"), std::string::npos);
}

}  // namespace
}  // namespace duogen
