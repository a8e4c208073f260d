// Reading a published diffusers snapshot: model_index.json (plain and in the Hugging Face cache's
// symlinked layout), the UniPC scheduler config against diffusers' own tables, Pillow's bilinear
// resize of video frames, and `duogen video` job files.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "image/resample.h"
#include "io/json_config.h"
#include "io/pipeline_snapshot.h"
#include "io/safetensors.h"
#include "pipeline/cosmos/world_job.h"
#include "sampling/flow/diffusers_scheduler.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
namespace flow = sampling::flow;
using nlohmann::json;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("snapshot"); }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    testing::write_bytes(path, text);
  }
  fs::path dir_;
};

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(SnapshotTest, ModelIndexNamesTheComponents) {
  const fs::path root = dir_ / "pipe";
  for (const char* c : {"transformer", "vae", "scheduler"}) fs::create_directories(root / c);
  write(root / "model_index.json",
        R"({"_class_name": "Cosmos2_5_PredictBasePipeline", "_diffusers_version": "0.42.1",
            "transformer": ["diffusers", "CosmosTransformer3DModel"],
            "vae": ["diffusers", "AutoencoderKLWan"],
            "scheduler": ["diffusers", "UniPCMultistepScheduler"],
            "safety_checker": [null, null]})");
  const io::PipelineSnapshot s = io::read_pipeline_snapshot(root);
  EXPECT_EQ(s.class_name, "Cosmos2_5_PredictBasePipeline");
  EXPECT_EQ(s.diffusers_version, "0.42.1");
  EXPECT_EQ(s.components.size(), 3u);  // the null safety checker is not a component
  EXPECT_EQ(s.component("vae").class_name, "AutoencoderKLWan");
  EXPECT_EQ(s.component("transformer").dir, root / "transformer");
  EXPECT_NE(error_of([&] { s.component("text_encoder"); }).find("no 'text_encoder' component"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              s.component("vae", "CosmosTransformer3DModel");
            }).find("'vae' is a AutoencoderKLWan"),
            std::string::npos);
  EXPECT_FALSE(io::find_pipeline_snapshot(root / "vae").has_value());
}

TEST_F(SnapshotTest, TheHuggingFaceCacheLayoutResolvesThroughRefsMain) {
  // models--org--name/{refs/main, snapshots/<rev>/..., blobs/<sha>}: files are symlinks to blobs.
  const fs::path repo = dir_ / "models--nvidia--Cosmos-Predict2.5-2B";
  const fs::path rev = repo / "snapshots" / "abc123";
  write(
      repo / "blobs" / "index-blob",
      R"({"_class_name": "Cosmos2_5_PredictBasePipeline", "vae": ["diffusers", "AutoencoderKLWan"]})");
  write(repo / "blobs" / "vae-config", "{}");
  fs::create_directories(rev / "vae");
  fs::create_symlink("../../blobs/index-blob", rev / "model_index.json");
  fs::create_symlink("../../../blobs/vae-config", rev / "vae" / "config.json");
  write(repo / "refs" / "main", "abc123");
  // An older revision without a model index does not confuse the lookup.
  fs::create_directories(repo / "snapshots" / "old");
  const io::PipelineSnapshot s = io::read_pipeline_snapshot(repo);
  EXPECT_EQ(s.root, rev);
  EXPECT_TRUE(fs::is_regular_file(s.component("vae").dir / "config.json"));
  // The revision directory itself works too.
  EXPECT_EQ(io::read_pipeline_snapshot(rev).root, rev);
}

TEST_F(SnapshotTest, MalformedIndexesNameTheFileAndKey) {
  const fs::path root = dir_ / "bad";
  fs::create_directories(root);
  const auto error_for = [&](const std::string& index) {
    write(root / "model_index.json", index);
    return error_of([&] { io::read_pipeline_snapshot(root); });
  };
  EXPECT_NE(error_for("not json").find("model_index.json"), std::string::npos);
  EXPECT_NE(error_for(R"({"vae": ["diffusers", "AutoencoderKLWan"]})").find("_class_name"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"_class_name": "X", "vae": "AutoencoderKLWan"})")
                .find("'vae' must be a [library, class] pair"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"_class_name": "X", "vae": ["diffusers", "AutoencoderKLWan"]})")
                .find("has no directory"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              io::read_pipeline_snapshot(dir_ / "missing");
            }).find("no such file or directory"),
            std::string::npos);
  fs::remove(root / "model_index.json");
  EXPECT_NE(error_of([&] { io::read_pipeline_snapshot(root); }).find("not a diffusers pipeline"),
            std::string::npos);
}

TEST(DiffusersScheduler, TablesEqualDiffusersSetTimesteps) {
  const json golden =
      io::read_json_file(testing::data_dir() / "reference/diffusers_schedules.json");
  const fs::path dir = testing::make_temp_dir("scheduler");
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    json config = c["config"];
    config["_class_name"] = "UniPCMultistepScheduler";
    const fs::path file = dir / "scheduler_config.json";
    testing::write_bytes(file, config.dump());
    const flow::DiffusersScheduler s = flow::read_diffusers_scheduler(file);
    const flow::FlowSchedule table = flow::diffusers_schedule(s, c["num_inference_steps"]);
    const auto sigmas = c["sigmas"].get<std::vector<float>>();
    const auto timesteps = c["timesteps"].get<std::vector<std::int64_t>>();
    EXPECT_EQ(table.sigmas, sigmas);  // float32, exactly
    EXPECT_EQ(table.timesteps, timesteps);
    EXPECT_EQ(s.unipc.order, config.value("solver_order", 2));
  }
  fs::remove_all(dir);
}

TEST(DiffusersScheduler, UnsupportedSettingsAreRefusedByName) {
  const fs::path dir = testing::make_temp_dir("scheduler");
  const fs::path file = dir / "scheduler_config.json";
  const json published = {{"_class_name", "UniPCMultistepScheduler"},
                          {"use_karras_sigmas", true},
                          {"use_flow_sigmas", true},
                          {"prediction_type", "flow_prediction"},
                          {"sigma_max", 200.0},
                          {"sigma_min", 0.01},
                          {"beta_schedule", "linear"},
                          {"timestep_spacing", "linspace"},
                          // diffusers saves unset options as null: absent, not refused
                          {"solver_p", nullptr},
                          {"shift_terminal", nullptr},
                          {"trained_betas", nullptr}};
  const auto error_for = [&](const json& config) {
    testing::write_bytes(file, config.dump());
    return error_of([&] { flow::read_diffusers_scheduler(file); });
  };
  EXPECT_EQ(error_for(published), "(no error)");
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"thresholding", true}}, "'thresholding'"},
      {{{"prediction_type", "epsilon"}}, "'prediction_type'"},
      {{{"use_flow_sigmas", false}}, "'use_flow_sigmas'"},
      {{{"solver_order", 3}}, "'solver_order' = 3"},
      {{{"solver_type", "midpoint"}}, "'solver_type'"},
      {{{"final_sigmas_type", "sigma_min"}}, "'final_sigmas_type'"},
      {{{"use_dynamic_shifting", true}}, "'use_dynamic_shifting'"},
      {{{"use_exponential_sigmas", true}}, "'use_exponential_sigmas'"},
      {{{"shift_terminal", 0.1}}, "'shift_terminal'"},
      {{{"brand_new_option", 1}}, "unknown scheduler key 'brand_new_option'"},
      {{{"_class_name", "DDIMScheduler"}}, "DDIMScheduler"},
      {{{"sigma_min", nullptr}}, "needs explicit 'sigma_min' and 'sigma_max'"},
      {{{"use_karras_sigmas", false}}, "only apply with 'use_karras_sigmas'"},
  };
  for (const auto& [patch, fragment] : bad) {
    json config = published;
    config.merge_patch(patch);
    const std::string message = error_for(config);
    EXPECT_NE(message.find(fragment), std::string::npos) << patch.dump() << ": " << message;
    EXPECT_NE(message.find("scheduler_config.json"), std::string::npos) << message;
  }
  fs::remove_all(dir);
}

TEST(PillowBilinear, EqualsImageResizeBilinearBitForBit) {
  const io::SafetensorsFile golden =
      io::SafetensorsFile::open(testing::data_dir() / "reference/pil_bilinear.safetensors");
  int compared = 0;
  for (const char* label : {"noise", "smooth"}) {
    const at::Tensor input = golden.tensor(std::string(label) + ".input");
    for (const auto& t : golden.tensors()) {
      if (t.name.rfind(std::string(label) + ".", 0) != 0 || t.name.ends_with(".input")) continue;
      const at::Tensor expected = golden.tensor(t.name);
      const at::Tensor actual = image::resize_bilinear(input, expected.size(0), expected.size(1));
      EXPECT_TRUE(at::equal(actual, expected)) << t.name;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 10);
}

class WorldJobTest : public SnapshotTest {};

TEST_F(WorldJobTest, FieldsAreReadAndCommandLineDefaultsApplyUnderThem) {
  write(dir_ / "first.png", "png bytes are not read here");
  write(
      dir_ / "jobs.jsonl",
      R"({"id": "a", "prompt": "a red cube", "num_frames": 9, "width": 48, "height": 32, "seed": 3}
{"prompt": "a blue cube", "image": "first.png", "negative_prompt": "", "fps": 24}
)");
  pipeline::cosmos::WorldJobDefaults d;
  d.request.steps = 5;
  d.request.width = 64;
  const auto jobs = pipeline::cosmos::read_world_jobs(dir_ / "jobs.jsonl", d);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "a");
  EXPECT_EQ(jobs[0].request.num_frames, 9);
  EXPECT_EQ(jobs[0].request.width, 48);
  EXPECT_EQ(jobs[0].request.steps, 5);
  EXPECT_EQ(jobs[0].request.seed, 3u);
  EXPECT_FALSE(jobs[0].request.negative_prompt.has_value());
  EXPECT_EQ(jobs[1].id, "jobs-2");
  EXPECT_EQ(jobs[1].request.width, 64);
  EXPECT_EQ(jobs[1].request.negative_prompt.value(), "");
  EXPECT_EQ(jobs[1].image.value(), fs::absolute(dir_) / "first.png");
  EXPECT_EQ(jobs[1].fps.value(), 24.0);
}

TEST_F(WorldJobTest, BadJobsNameTheLineAndField) {
  const auto error_for = [&](const std::string& line) {
    write(dir_ / "jobs.jsonl", line + "\n");
    return error_of([&] { pipeline::cosmos::read_world_jobs(dir_ / "jobs.jsonl", {}); });
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"prompt": "x", "num_frames": "nine"})",
       "jobs.jsonl:1: field 'num_frames' must be an integer"},
      {R"({"prompt": "x", "width": 40})", "multiples of 16"},
      {R"({"prompt": "x", "colour": "red"})", "unknown field 'colour'"},
      {R"({"num_frames": 9})", "missing field 'prompt'"},
      {R"({"prompt": "x", "image": "nope.png"})", "field 'image' names"},
      {R"({"prompt": "x", "fps": -1})", "field 'fps'"},
      {R"({"prompt": "x", "num_latent_conditional_frames": 3})",
       "field 'num_latent_conditional_frames'"},
      {R"({"prompt": "x", "id": "a/b"})", "not a valid id"},
      {R"(["prompt"])", "a job must be a JSON object"},
      {R"({"prompt": )", "not valid JSON"},
  };
  for (const auto& [line, fragment] : cases) {
    const std::string message = error_for(line);
    EXPECT_NE(message.find(fragment), std::string::npos) << line << ": " << message;
  }
  write(dir_ / "dup.jsonl",
        "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}\n");
  EXPECT_NE(error_of([&] {
              pipeline::cosmos::read_world_jobs(dir_ / "dup.jsonl", {});
            }).find("duplicate job id 'a'"),
            std::string::npos);
}

}  // namespace
}  // namespace duogen
