// duogen video --model SNAPSHOT --prompt TEXT [--image F | --video F] --out OUT.mp4|OUT.png
// duogen video --model SNAPSHOT --jobs F.jsonl --out DIR
// The published Cosmos-Predict2.5 pipeline (a diffusers snapshot directory): text -> image
// (--frames 1), text -> world, image -> world, video -> world. See pipeline/cosmos/.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "core/device.h"
#include "device_options.h"
#include "io/atomic_file.h"
#include "io/image_io.h"
#include "io/pipeline_snapshot.h"
#include "io/video_io.h"
#include "pipeline/cosmos/prompt_encoder.h"
#include "pipeline/cosmos/world_job.h"
#include "pipeline/cosmos/world_pipeline.h"

namespace duogen::cli {
namespace {

namespace fs = std::filesystem;
namespace cosmos = pipeline::cosmos;

struct VideoArgs {
  std::string model, prompt, image, video, out, jobs, frames_dir;
  std::optional<std::string> negative_prompt;
  DeviceDtypeArgs placement;
  std::optional<std::int64_t> num_frames, width, height, max_sequence_length;
  std::optional<int> steps, conditional_frames;
  std::optional<double> guidance, fps, condition_timestep;
  std::optional<std::uint64_t> seed;
  bool tiling = false, sequential_offload = false, png_frames = false;
};

// --frames/--width/... given on the command line, over the pipeline's defaults.
cosmos::WorldJobDefaults defaults_from(const VideoArgs& a) {
  cosmos::WorldJobDefaults d;
  cosmos::WorldRequest& r = d.request;
  if (a.num_frames) r.num_frames = *a.num_frames;
  if (a.width) r.width = *a.width;
  if (a.height) r.height = *a.height;
  if (a.steps) r.steps = *a.steps;
  if (a.guidance) r.guidance = *a.guidance;
  if (a.seed) r.seed = *a.seed;
  if (a.conditional_frames) r.num_latent_conditional_frames = *a.conditional_frames;
  if (a.condition_timestep) r.conditional_frame_timestep = *a.condition_timestep;
  if (a.max_sequence_length) r.max_sequence_length = *a.max_sequence_length;
  r.negative_prompt = a.negative_prompt;
  d.fps = a.fps;
  return d;
}

// Progress: a bar on a terminal, a few lines in logs.
cosmos::WorldProgress progress_printer(const std::string& id) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto bar = [tty, id](const char* what, std::int64_t done, std::int64_t total) {
    if (tty) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * done / total);
      fmt::print(stderr, "\r  {} {} [{}{}] {}/{}", id, what, std::string(filled, '#'),
                 std::string(kWidth - filled, '.'), done, total);
      if (done == total) fmt::print(stderr, "\n");
      std::fflush(stderr);
    } else if (done == total || done % std::max<std::int64_t>(1, total / 4) == 0) {
      spdlog::info("{}: {} {}/{}", id, what, done, total);
    }
  };
  cosmos::WorldProgress p;
  p.stage = [id](const std::string& stage) { spdlog::info("{}: {}", id, stage); };
  p.step = [bar](int step, int steps) { bar("denoise", step, steps); };
  p.decoded = [bar](std::int64_t chunk, std::int64_t chunks) { bar("decode", chunk, chunks); };
  return p;
}

// The job's conditioning pixels, read from its files; returns the input video's frame rate.
std::optional<double> attach_inputs(const cosmos::WorldJob& job, cosmos::WorldRequest& r) {
  if (job.image) r.image = io::read_image_rgb(*job.image);
  if (!job.video) return std::nullopt;
  io::VideoFrames v = io::read_video(*job.video);
  r.video = v.frames;
  return v.fps;
}

// Writes the result where `target` says: .png (one frame), .mp4, or a directory of PNG frames.
void write_output(const fs::path& target, const at::Tensor& frames, double fps) {
  const std::string ext = target.extension().string();
  if (ext == ".png") {
    DUOGEN_CHECK(frames.size(0) == 1, UsageError,
                 "--out {}: a .png holds one frame, the result has {} (use .mp4 or --frames 1)",
                 target.string(), frames.size(0));
    io::write_png(target, frames[0]);
  } else if (ext == ".mp4") {
    io::VideoWriteOptions o;
    o.fps = fps;
    io::write_mp4(target, frames, o);
  } else {
    DUOGEN_FAIL(UsageError, "--out {}: must end in .mp4 or .png", target.string());
  }
}

nlohmann::json describe(const cosmos::WorldJob& job, double fps, double seconds) {
  const cosmos::WorldRequest& r = job.request;
  nlohmann::json j = {{"id", job.id},           {"prompt", r.prompt}, {"num_frames", r.num_frames},
                      {"width", r.width},       {"height", r.height}, {"steps", r.steps},
                      {"guidance", r.guidance}, {"seed", r.seed},     {"fps", fps},
                      {"seconds", seconds}};
  j["negative_prompt"] = r.negative_prompt ? nlohmann::json(*r.negative_prompt) : nlohmann::json();
  if (job.image) j["image"] = job.image->string();
  if (job.video) {
    j["video"] = job.video->string();
    j["num_latent_conditional_frames"] = r.num_latent_conditional_frames;
  }
  return j;
}

cosmos::WorldPipeline load_pipeline(const VideoArgs& a) {
  const DevicePlacement placement = resolve(a.placement);
  const io::PipelineSnapshot snapshot = io::read_pipeline_snapshot(a.model);
  cosmos::WorldPipelineOptions o;
  o.dtype = placement.dtype;
  o.device = placement.device;
  o.vae_tiling.enabled = a.tiling;
  o.sequential_offload = a.sequential_offload;
  spdlog::info("loading {} from {} ({}, {})", snapshot.class_name, snapshot.root.string(),
               placement.device.str(), c10::toString(placement.dtype));
  return cosmos::WorldPipeline::load(snapshot, o);
}

void run_single(const VideoArgs& a) {
  DUOGEN_CHECK(!a.prompt.empty(), UsageError, "--prompt is empty");
  DUOGEN_CHECK(a.image.empty() || a.video.empty(), UsageError, "give --image or --video, not both");
  cosmos::WorldJob job;
  job.id = "video";
  job.source = "command line";
  const cosmos::WorldJobDefaults d = defaults_from(a);
  job.request = d.request;
  job.request.prompt = a.prompt;
  job.fps = d.fps;
  for (const auto& [path, slot] :
       {std::pair{a.image, &job.image}, std::pair{a.video, &job.video}}) {
    if (path.empty()) continue;
    std::error_code ec;
    DUOGEN_CHECK(fs::exists(path, ec), UsageError, "{}: no such file", path);
    *slot = fs::path(path);
  }
  const fs::path target = a.out;
  const std::string ext = target.extension().string();
  DUOGEN_CHECK(ext == ".mp4" || ext == ".png", UsageError, "--out {}: must end in .mp4 or .png",
               a.out);
  DUOGEN_CHECK(ext != ".png" || job.request.num_frames == 1, UsageError,
               "--out {}: a .png holds one frame; use .mp4 for --frames {}", a.out,
               job.request.num_frames);
  const std::optional<double> input_fps = attach_inputs(job, job.request);
  cosmos::check_request(job.request);  // before the models load
  cosmos::WorldPipeline pipe = load_pipeline(a);
  const auto start = std::chrono::steady_clock::now();
  const cosmos::WorldResult result = pipe.run(job.request, progress_printer(job.id));
  const double fps = job.fps.value_or(input_fps.value_or(16.0));
  write_output(target, result.frames, fps);
  if (!a.frames_dir.empty()) io::write_frames_png(a.frames_dir, result.frames);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("wrote {} ({} frames, {}x{}, {} fps) in {:.1f} s", target.string(),
               result.frames.size(0), result.frames.size(2), result.frames.size(1), fps, seconds);
}

// --jobs: one directory per job (video.mp4 or image.png, result.json, frames/ with --png-frames),
// written in a scratch directory and renamed into place; a finished job is skipped on a rerun.
void run_jobs(const VideoArgs& a) {
  const std::vector<cosmos::WorldJob> jobs = cosmos::read_world_jobs(a.jobs, defaults_from(a));
  const fs::path out = a.out;
  fs::create_directories(out);
  std::vector<const cosmos::WorldJob*> todo;
  for (const auto& job : jobs) {
    if (fs::exists(out / job.id / "result.json")) {
      spdlog::info("{}: already done, skipped", job.id);
    } else {
      todo.push_back(&job);
    }
  }
  if (todo.empty()) return;
  cosmos::WorldPipeline pipe = load_pipeline(a);
  std::size_t failed = 0;
  std::string first_failure;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const cosmos::WorldJob& job = *todo[i];
    spdlog::info("job {}/{}: {}", i + 1, todo.size(), job.id);
    const fs::path dir = out / job.id;
    const fs::path scratch =
        out / fmt::format(".{}.work-{}", job.id, static_cast<long>(::getpid()));
    std::error_code ec;
    fs::remove_all(scratch, ec);
    try {
      cosmos::WorldRequest r = job.request;
      const std::optional<double> input_fps = attach_inputs(job, r);
      const auto start = std::chrono::steady_clock::now();
      const cosmos::WorldResult result = pipe.run(r, progress_printer(job.id));
      const double fps = job.fps.value_or(input_fps.value_or(16.0));
      fs::create_directories(scratch);
      const bool image = result.frames.size(0) == 1;
      write_output(scratch / (image ? "image.png" : "video.mp4"), result.frames, fps);
      if (a.png_frames) io::write_frames_png(scratch / "frames", result.frames);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      io::write_file_atomically(scratch / "result.json",
                                describe(job, fps, seconds).dump(2) + "\n");
      fs::remove_all(dir, ec);
      fs::rename(scratch, dir, ec);
      DUOGEN_CHECK(!ec, IoError, "cannot move {} to {}: {}", scratch.string(), dir.string(),
                   ec.message());
      spdlog::info("wrote {}", dir.string());
    } catch (const Error& e) {
      fs::remove_all(scratch, ec);
      spdlog::error("{}: {}", job.source, e.what());
      if (failed++ == 0) first_failure = fmt::format("{}: {}", job.id, e.what());
    }
  }
  DUOGEN_CHECK(failed == 0, Error, "{} of {} job(s) failed; first: {}", failed, todo.size(),
               first_failure);
}

}  // namespace

void add_video_command(CLI::App& app) {
  auto a = std::make_shared<VideoArgs>();
  auto* cmd = app.add_subcommand(
      "video",
      "Cosmos-Predict2.5 (a diffusers snapshot): text/image/video -> image or world video");
  cmd->add_option("--model", a->model, "pipeline snapshot directory (model_index.json)")
      ->required();
  cmd->add_option("--prompt", a->prompt, "what to show");
  cmd->add_option("--negative-prompt", a->negative_prompt,
                  "CFG negative prompt (default: the pipeline's; \"\" for an empty one)");
  cmd->add_option("--image", a->image, "image -> world: the first frame");
  cmd->add_option("--video", a->video,
                  "video -> world: a video file or a directory of frames (000.png, ...)");
  cmd->add_option("--jobs", a->jobs, "job file (.json or .jsonl) instead of --prompt");
  cmd->add_option("--out", a->out, "OUT.mp4 / OUT.png (with --prompt) or a directory (--jobs)")
      ->required();
  cmd->add_option("--frames", a->num_frames, "frames to generate (default 93; 1 = an image)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--width", a->width, "width, a multiple of 16 (default 1280)")
      ->check(CLI::Range(16, 16384));
  cmd->add_option("--height", a->height, "height, a multiple of 16 (default 704)")
      ->check(CLI::Range(16, 16384));
  cmd->add_option("--steps", a->steps, "inference steps (default 36)")->check(CLI::Range(1, 1000));
  cmd->add_option("--guidance", a->guidance, "CFG scale (default 7; <= 1 turns CFG off)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--seed", a->seed, "noise seed (torch's CPU generator, as diffusers)");
  cmd->add_option("--fps", a->fps, "output frame rate (default: the input video's, else 16)")
      ->check(CLI::Range(0.001, 1000.0));
  cmd->add_option("--conditional-frames", a->conditional_frames,
                  "video -> world: latent frames to condition on, 1 or 2 (1 or 5 input frames)")
      ->check(CLI::Range(1, 2));
  cmd->add_option("--condition-timestep", a->condition_timestep,
                  "network timestep of condition frames (default 1e-4; < 0: the step's sigma)");
  cmd->add_option("--max-sequence-length", a->max_sequence_length, "prompt tokens (default 512)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--frames-dir", a->frames_dir, "also write every frame as a PNG here");
  cmd->add_flag("--png-frames", a->png_frames, "with --jobs: also write frames/NNN.png per job");
  cmd->add_flag("--vae-tiling", a->tiling, "decode in spatial tiles (bounded memory)");
  cmd->add_flag("--sequential-offload", a->sequential_offload,
                "load each model for its stage only (text encoder, DiT, VAE)");
  add_device_dtype_options(cmd, a->placement);
  cmd->callback([a] {
    if (!a->jobs.empty()) {
      DUOGEN_CHECK(a->prompt.empty() && a->image.empty() && a->video.empty(), UsageError,
                   "give either --jobs or --prompt/--image/--video, not both");
      run_jobs(*a);
    } else {
      run_single(*a);
    }
  });
}

}  // namespace duogen::cli
