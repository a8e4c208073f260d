// `duogen video` and `duogen t2i --model SNAPSHOT` on the tiny Cosmos-Predict2.5 snapshot, run as a
// user would: MP4/PNG outputs and their metadata, the same pixels as the library run, inputs from
// image and frame files equal to diffusers' dumps, job files with resume, the original-format
// assembly script, and the errors.
#include <algorithm>
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "io/image_io.h"
#include "io/pipeline_snapshot.h"
#include "io/png_text.h"
#include "io/video_io.h"
#include "pipeline/cosmos/world_pipeline.h"
#include "testing/fixtures.h"
#include "testing/process.h"
#include "testing/test_paths.h"
#include "verify/reference_dump.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
namespace cosmos = pipeline::cosmos;
using testing::contains;
using testing::run_duogen;

fs::path snapshot() { return testing::data_dir() / "tiny-cosmos2_5"; }
fs::path reference(const std::string& name) { return testing::data_dir() / "reference" / name; }

// Small settings every run here shares (`t2i` has no --max-sequence-length: the pipeline's 512).
std::vector<std::string> small(std::vector<std::string> args, bool short_prompt = true) {
  for (const char* a : {"--width", "48", "--height", "32", "--steps", "3", "--seed", "5"}) {
    args.emplace_back(a);
  }
  if (short_prompt) {
    args.emplace_back("--max-sequence-length");
    args.emplace_back("48");
  }
  return args;
}

class VideoCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("video-cli"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(VideoCli, WritesAnMp4WithItsFrameRateAndTheLibrarysFrames) {
  const fs::path mp4 = dir_ / "out.mp4";
  const auto r = run_duogen(
      small({"video", "--model", snapshot().string(), "--prompt", "a red cube", "--frames", "9",
             "--fps", "24", "--out", mp4.string(), "--frames-dir", (dir_ / "frames").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "denoise")) << r.err;  // progress per step
  EXPECT_TRUE(contains(r.err, "decode")) << r.err;   // and per decoded chunk
  const io::VideoInfo info = io::probe_video(mp4);
  EXPECT_EQ(info.frames, 9);
  EXPECT_EQ(info.width, 48);
  EXPECT_EQ(info.height, 32);
  EXPECT_DOUBLE_EQ(info.fps, 24.0);
  EXPECT_EQ(info.codec, "h264");
  // The PNG frames are exactly what the library computes for the same request.
  cosmos::WorldRequest req;
  req.prompt = "a red cube";
  req.num_frames = 9;
  req.width = 48;
  req.height = 32;
  req.steps = 3;
  req.seed = 5;
  req.max_sequence_length = 48;
  auto pipe = cosmos::WorldPipeline::load(io::read_pipeline_snapshot(snapshot()), {});
  const at::Tensor expected = pipe.run(req).frames;
  const io::VideoFrames pngs = io::read_video(dir_ / "frames");
  EXPECT_TRUE(at::equal(pngs.frames, expected));
}

TEST_F(VideoCli, T2iOnASnapshotIsTheOneFrameVideo) {
  const fs::path a = dir_ / "a.png", b = dir_ / "b.png";
  auto r = run_duogen(
      small({"t2i", "--model", snapshot().string(), "--prompt", "a blue cone", "--out", a.string()},
            false));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_duogen(small({"video", "--model", snapshot().string(), "--prompt", "a blue cone",
                        "--frames", "1", "--out", b.string()},
                       false));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The same pixels; t2i's PNG also carries the generation parameters (tEXt), as DuoGen's do.
  EXPECT_TRUE(at::equal(io::read_image_rgb(a), io::read_image_rgb(b)));
  EXPECT_EQ(io::read_image_rgb(a).sizes(), (std::vector<std::int64_t>{32, 48, 3}));
  const io::PngText text = io::read_png_text(a);
  EXPECT_NE(std::find(text.begin(), text.end(), std::pair<std::string, std::string>{"seed", "5"}),
            text.end());
}

// From the image and frame files the dumper wrote, the CLI gives diffusers' frames (uint8: the
// dumped [0, 1] frames rounded as the pipeline's PIL output rounds them; within one level for the
// fp32 differences the parity test allows).
TEST_F(VideoCli, ImageAndVideoInputsFromFilesGiveDiffusersFrames) {
  struct Case {
    const char* mode;
    std::string input_flag, input;
  };
  for (const Case& c : {Case{"i2w", "--image", reference("cosmos_pipeline.i2w.image.png").string()},
                        Case{"v2w", "--video", reference("cosmos_pipeline.v2w.frames").string()}}) {
    SCOPED_TRACE(c.mode);
    const verify::ReferenceDump d = verify::ReferenceDump::load(
        reference(std::string("cosmos_pipeline.") + c.mode + ".safetensors"));
    const auto& m = d.metadata;
    std::vector<std::string> args = {"video",
                                     "--model",
                                     snapshot().string(),
                                     "--prompt",
                                     m.at("prompt"),
                                     c.input_flag,
                                     c.input,
                                     "--frames",
                                     m.at("num_frames"),
                                     "--width",
                                     m.at("width"),
                                     "--height",
                                     m.at("height"),
                                     "--steps",
                                     m.at("num_inference_steps"),
                                     "--guidance",
                                     m.at("guidance_scale"),
                                     "--seed",
                                     m.at("seed"),
                                     "--max-sequence-length",
                                     m.at("max_sequence_length"),
                                     "--out",
                                     (dir_ / (std::string(c.mode) + ".mp4")).string(),
                                     "--frames-dir",
                                     (dir_ / c.mode).string()};
    if (m.count("negative_prompt")) {
      args.push_back("--negative-prompt");
      args.push_back(m.at("negative_prompt"));
    }
    if (std::string(c.mode) == "v2w") {
      args.push_back("--conditional-frames");
      args.push_back(m.at("num_latent_conditional_frames"));
    }
    const auto r = run_duogen(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const at::Tensor got = io::read_video(dir_ / c.mode).frames.to(at::kInt);
    const at::Tensor want = (d.expected.at("frames") * 255).round().to(at::kInt);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LE((got - want).abs().max().item<int>(), 1);
  }
}

TEST_F(VideoCli, JobFilesWriteOneDirectoryPerJobAndResume) {
  const fs::path jobs = dir_ / "jobs.jsonl";
  std::ofstream(jobs) << R"({"id": "clip", "prompt": "a robot arm", "num_frames": 5})"
                         "\n"
                      << R"({"id": "still", "prompt": "a lamp", "num_frames": 1, "seed": 2})"
                         "\n";
  const fs::path out = dir_ / "out";
  auto r = run_duogen(small({"video", "--model", snapshot().string(), "--jobs", jobs.string(),
                             "--out", out.string(), "--png-frames"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(io::probe_video(out / "clip" / "video.mp4").frames, 5);
  EXPECT_EQ(io::read_video(out / "clip" / "frames").frames.size(0), 5);
  EXPECT_TRUE(fs::is_regular_file(out / "still" / "image.png"));
  const auto result = nlohmann::json::parse(testing::read_bytes(out / "clip" / "result.json"));
  EXPECT_EQ(result["num_frames"], 5);
  EXPECT_EQ(result["width"], 48);
  const auto before = fs::last_write_time(out / "clip" / "video.mp4");
  r = run_duogen(small(
      {"video", "--model", snapshot().string(), "--jobs", jobs.string(), "--out", out.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "already done")) << r.err;
  EXPECT_EQ(fs::last_write_time(out / "clip" / "video.mp4"), before);
  for (const auto& e : fs::directory_iterator(out)) {
    EXPECT_NE(e.path().filename().string().front(), '.') << "scratch left: " << e.path();
  }
}

TEST_F(VideoCli, OriginalFormatAssemblyRunsLikeThePublishedSnapshot) {
  // A Reason1-style directory: the text encoder's weights and config with its tokenizer files.
  const fs::path reason = dir_ / "Reason1";
  fs::copy(snapshot() / "text_encoder", reason, fs::copy_options::recursive);
  for (const auto& e : fs::directory_iterator(snapshot() / "tokenizer")) {
    fs::copy(e.path(), reason / e.path().filename());
  }
  const fs::path assembled = dir_ / "assembled";
  const fs::path python = testing::source_dir() / ".venv/bin/python";
  const fs::path script = testing::source_dir() / "tools/convert/assemble_cosmos_snapshot.py";
  auto r = testing::run_process({python.string(), script.string(), "--dit",
                                 (snapshot() / "transformer").string(), "--vae",
                                 (snapshot() / "vae").string(), "--text-encoder", reason.string(),
                                 "--out", assembled.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fs::status(assembled / "model_index.json").permissions() & fs::perms::others_read,
            fs::perms::others_read);
  const fs::path a = dir_ / "a.png", b = dir_ / "b.png";
  for (const auto& [model, out] : {std::pair{snapshot(), a}, std::pair{assembled, b}}) {
    r = run_duogen(small({"video", "--model", model.string(), "--prompt", "a kettle", "--frames",
                          "1", "--out", out.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(testing::read_bytes(a), testing::read_bytes(b));
  // It refuses to overwrite, and names what a text-encoder directory lacks.
  r = testing::run_process(
      {python.string(), script.string(), "--dit", (snapshot() / "transformer").string(), "--vae",
       (snapshot() / "vae").string(), "--text-encoder", (snapshot() / "text_encoder").string(),
       "--out", (dir_ / "other").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "missing tokenizer.json")) << r.err;
}

// A component the index lists that duogen does not run (a saved safety checker) is named in a
// warning, not skipped silently; the run itself is the usual one.
TEST_F(VideoCli, ComponentsItDoesNotRunAreNamed) {
  const fs::path copy = dir_ / "snapshot";
  fs::copy(snapshot(), copy, fs::copy_options::recursive);
  nlohmann::json index;
  std::ifstream(copy / "model_index.json") >> index;
  index["safety_checker"] = {"cosmos_guardrail", "CosmosSafetyChecker"};
  std::ofstream(copy / "model_index.json") << index.dump(2);
  fs::create_directories(copy / "safety_checker");
  const auto r = run_duogen(small(
      {"t2i", "--model", copy.string(), "--prompt", "a cube", "--out", (dir_ / "x.png").string()},
      false));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err,
                       "component 'safety_checker' (cosmos_guardrail CosmosSafetyChecker) "
                       "is not run by duogen"))
      << r.err;
}

TEST_F(VideoCli, ErrorsNameTheProblem) {
  const std::string model = snapshot().string();
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {{"video", "--model", model, "--prompt", "x", "--out", (dir_ / "x.gif").string()},
       2,
       "must end in .mp4 or .png"},
      {{"video", "--model", model, "--prompt", "x", "--frames", "9", "--out",
        (dir_ / "x.png").string()},
       2,
       "a .png holds one frame"},
      {{"video", "--model", model, "--prompt", "x", "--image", "a.png", "--video", "b.mp4", "--out",
        (dir_ / "x.mp4").string()},
       2,
       "not both"},
      {{"video", "--model", model, "--prompt", "x", "--video", (dir_ / "none.mp4").string(),
        "--out", (dir_ / "x.mp4").string()},
       2,
       "none.mp4: no such file"},
      {{"video", "--model", (dir_ / "empty").string(), "--prompt", "x", "--out",
        (dir_ / "x.mp4").string()},
       1,
       "empty"},
      {{"video", "--model", model, "--prompt", "x", "--width", "40", "--out",
        (dir_ / "x.mp4").string()},
       1,
       "multiples of 16"},
      {{"generate", "--model", model, "--prompts", "p.json", "--out", dir_.string()},
       2,
       "duogen video"},
      {{"edit", "--model", model, "--image", "a.png", "--prompt", "x", "--out",
        (dir_ / "x.png").string()},
       2,
       "no editing mode"},
      {{"t2i", "--model", model, "--prompt", "x", "--solver", "euler", "--out",
        (dir_ / "x.png").string()},
       2,
       "--solver does not apply"},
      // The original release file given as the model: what it is and the converter to run.
      {{"video", "--model", (testing::data_dir() / "pickle" / "cosmos_dit.pt").string(), "--prompt",
        "x", "--out", (dir_ / "x.mp4").string()},
       1,
       "cosmos_dit_pt_to_safetensors.py"},
  };
  fs::create_directories(dir_ / "empty");
  for (const auto& c : cases) {
    const auto r = run_duogen(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.fragment << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.fragment)) << c.fragment << ": " << r.err;
  }
  // A step count the snapshot's scheduler refuses (Karras needs two) fails before the text
  // encoder runs.
  const auto one_step =
      run_duogen({"video", "--model", model, "--prompt", "x", "--frames", "1", "--width", "48",
                  "--height", "32", "--steps", "1", "--out", (dir_ / "one.png").string()});
  EXPECT_EQ(one_step.exit_code, 1) << one_step.err;
  EXPECT_TRUE(contains(one_step.err, "Karras sigmas need at least 2 inference steps"))
      << one_step.err;
  EXPECT_FALSE(contains(one_step.err, "encode prompt")) << one_step.err;
  // A bad job file fails before any model loads, naming the line and field.
  const fs::path jobs = dir_ / "bad.jsonl";
  std::ofstream(jobs) << R"({"prompt": "x", "num_frames": 0})"
                         "\n";
  const auto r = run_duogen(
      {"video", "--model", model, "--jobs", jobs.string(), "--out", (dir_ / "o").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "bad.jsonl:1: field 'num_frames'")) << r.err;
}

}  // namespace
}  // namespace duogen
