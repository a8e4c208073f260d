// duogen generate --model DIR --prompts F.json|F.jsonl --out DIR      interleaved text + images
// duogen t2i      --model DIR --prompt TEXT --out F.png                one image from text
// duogen edit     --model DIR --image A [--image B]... --prompt TEXT --out F.png
// duogen init-tiny --out DIR [--tokenizer DIR]                         a tiny random model
// t2i and edit also take --jobs F.jsonl --out DIR for scripted batches. Components can be given
// separately (--mllm, --dit, --vae, --tokenizer) instead of, or over, --model's duogen.json.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "core/check.h"
#include "device_options.h"
#include "io/atomic_file.h"
#include "io/pipeline_snapshot.h"
#include "pipeline/duogen_image_model.h"
#include "pipeline/job.h"
#include "pipeline/manifest.h"
#include "pipeline/qwen_conversation.h"
#include "pipeline/runner.h"
#include "pipeline/tiny_model.h"
#include "runtime/byte_size.h"

namespace duogen::cli {
namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string model, mllm, dit, vae, tokenizer;
  std::string prompts;  // generate: job file; t2i/edit: --jobs
  std::string prompt;
  std::vector<std::string> images;
  std::string out;
  DeviceDtypeArgs placement;
  std::string offload;  // device budget for offload mode ("22GiB"); empty: all resident
  bool quiet = false;
  // Job options given on the command line (over duogen.json's defaults, under the job file's).
  std::optional<std::uint64_t> seed;
  std::optional<std::int64_t> steps, width, height, max_new_tokens, max_images, top_k;
  std::optional<double> guidance, temperature, top_p, min_p, repetition_penalty;
  std::optional<std::string> solver, schedule;
  std::vector<std::string> logit_bias;  // TOKEN=BIAS
};

void add_model_options(CLI::App* cmd, GenerateArgs& a) {
  cmd->add_option("--model", a.model,
                  "DuoGen model directory (with duogen.json); for t2i also a Cosmos-Predict2.5 "
                  "diffusers snapshot (model_index.json)");
  cmd->add_option("--mllm", a.mllm, "Qwen2.5-VL directory (overrides duogen.json)");
  cmd->add_option("--dit", a.dit, "Cosmos DiT checkpoint (overrides duogen.json)");
  cmd->add_option("--vae", a.vae, "Wan2.1 VAE checkpoint (overrides duogen.json)");
  cmd->add_option("--tokenizer", a.tokenizer, "tokenizer directory (default: the MLLM's)");
  add_device_dtype_options(cmd, a.placement);
  cmd->add_option("--offload", a.offload,
                  "device budget (e.g. 22GiB): keep only the components in use on the device, "
                  "loading the others again when needed");
  cmd->add_option("--seed", a.seed, "base seed (image n uses seed + n - 1)");
  cmd->add_option("--steps", a.steps, "sampling steps per image")->check(CLI::Range(1, 1000));
  cmd->add_option("--guidance", a.guidance, "CFG scale")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--width", a.width, "image width (multiple of 16)")->check(CLI::Range(16, 8192));
  cmd->add_option("--height", a.height, "image height (multiple of 16)")
      ->check(CLI::Range(16, 8192));
  cmd->add_option("--max-new-tokens", a.max_new_tokens, "text token limit")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-images", a.max_images, "image limit per answer")->check(CLI::Range(0, 64));
  cmd->add_option("--temperature", a.temperature, "0 = greedy")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", a.top_k, "0 = off")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", a.top_p, "nucleus sampling")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", a.min_p, "min-p sampling")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repetition-penalty", a.repetition_penalty, "1 = off")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--solver", a.solver, "unipc or euler")->check(CLI::IsMember({"unipc", "euler"}));
  cmd->add_option("--schedule", a.schedule, "linear_shift or karras")
      ->check(CLI::IsMember({"linear_shift", "karras"}));
  cmd->add_option("--logit-bias", a.logit_bias,
                  "TOKEN=BIAS added to a token's logit, e.g. '<BOV>=5' (repeatable)");
  cmd->add_flag("-q,--quiet", a.quiet, "do not stream text to stdout");
}

pipeline::JobOptions cli_options(const GenerateArgs& a) {
  pipeline::JobOptions o;
  o.seed = a.seed;
  o.steps = a.steps;
  o.guidance = a.guidance;
  o.width = a.width;
  o.height = a.height;
  o.max_new_tokens = a.max_new_tokens;
  o.max_images = a.max_images;
  o.temperature = a.temperature;
  o.top_k = a.top_k;
  o.top_p = a.top_p;
  o.min_p = a.min_p;
  o.repetition_penalty = a.repetition_penalty;
  o.solver = a.solver;
  o.schedule = a.schedule;
  for (const auto& entry : a.logit_bias) {
    const auto eq = entry.rfind('=');
    DUOGEN_CHECK(eq != std::string::npos && eq > 0, UsageError,
                 "--logit-bias '{}': expected TOKEN=BIAS", entry);
    double bias = 0;
    try {
      std::size_t used = 0;
      bias = std::stod(entry.substr(eq + 1), &used);
      DUOGEN_CHECK(used == entry.size() - eq - 1, UsageError, "--logit-bias '{}': bad number",
                   entry);
    } catch (const std::logic_error&) {
      DUOGEN_FAIL(UsageError, "--logit-bias '{}': bad number", entry);
    }
    o.logit_bias.emplace_back(entry.substr(0, eq), bias);
  }
  for (const auto side : {a.width, a.height}) {
    DUOGEN_CHECK(!side || *side % 16 == 0, UsageError,
                 "--width/--height must be multiples of 16, got {}", *side);
  }
  return o;
}

pipeline::ModelManifest manifest_for(const GenerateArgs& a) {
  std::optional<pipeline::ModelManifest> base;
  if (!a.model.empty()) base = pipeline::read_manifest(a.model);
  const auto opt = [](const std::string& s) {
    return s.empty() ? std::optional<fs::path>() : std::optional<fs::path>(s);
  };
  return pipeline::resolve_components(base, opt(a.mllm), opt(a.dit), opt(a.vae), opt(a.tokenizer));
}

// Sampling progress: a bar on a terminal, a few plain lines in logs.
pipeline::ProgressFn progress_printer() {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  return [tty](std::int64_t step, std::int64_t steps) {
    if (tty) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * step / steps);
      fmt::print(stderr, "\r  image [{}{}] {}/{}", std::string(filled, '#'),
                 std::string(kWidth - filled, '.'), step, steps);
      if (step == steps) fmt::print(stderr, "\n");
      std::fflush(stderr);
    } else if (step == steps || step % std::max<std::int64_t>(1, steps / 4) == 0) {
      spdlog::info("image sampling step {}/{}", step, steps);
    }
  };
}

void run(const GenerateArgs& a,
         const std::vector<pipeline::Job>& jobs,
         const fs::path& out_dir,
         bool image_only) {
  const DevicePlacement placement = resolve(a.placement);
  const pipeline::ModelManifest manifest = manifest_for(a);
  const pipeline::JobOptions cli = cli_options(a);
  std::shared_ptr<runtime::ResidencyManager> residency;
  if (!a.offload.empty()) {
    std::uint64_t budget = 0;
    try {
      budget = runtime::parse_byte_size(a.offload);
    } catch (const InvalidArgument& e) {
      throw UsageError(fmt::format("--offload: {}", e.what()));
    }
    residency = std::make_shared<runtime::ResidencyManager>(budget);
    spdlog::info("offload mode: {} of device memory for the model weights",
                 runtime::format_bytes(budget));
  }
  spdlog::info("loading the MLLM from {} ({}, {})", manifest.mllm.string(), placement.device.str(),
               c10::toString(placement.dtype));
  pipeline::QwenConversation mllm(manifest,
                                  {placement.dtype, placement.device,
                                   pipeline::ConversationOptions{}.context_capacity, residency});
  spdlog::info("loading the DiT from {} and the VAE from {}", manifest.dit.string(),
               manifest.vae.string());
  pipeline::DuoGenImageModel images(manifest, {placement.dtype, placement.device, residency});
  images.check_context_width(mllm.config().text.num_hidden_layers, mllm.config().text.hidden_size,
                             manifest.mllm);

  pipeline::RunOptions options;
  options.out_dir = out_dir;
  options.cli = cli;
  options.image_only = image_only;
  pipeline::RunCallbacks callbacks;
  if (!a.quiet && !image_only) {
    callbacks.generation.on_text = [](std::string_view piece) {
      fmt::print("{}", piece);
      std::fflush(stdout);
    };
  }
  callbacks.generation.on_image = [](std::size_t index, const at::Tensor& image) {
    spdlog::info("image {} done ({}x{})", index, image.size(1), image.size(0));
  };
  callbacks.generation.on_image_progress = progress_printer();
  callbacks.on_job_start = [](const pipeline::Job& job, std::size_t i, std::size_t n) {
    spdlog::info("job {}/{}: {}", i, n, job.id);
  };
  callbacks.on_job_done = [&](const pipeline::Job&, const fs::path& dir) {
    if (!a.quiet && !image_only) fmt::print("\n");
    spdlog::info("wrote {}", dir.string());
  };
  const auto lookup = [&](const std::string& token) { return mllm.token_id(token); };
  const pipeline::RunSummary summary = pipeline::run_jobs(
      jobs, manifest, mllm, images, lookup, mllm.stop_token_ids(), options, callbacks);
  spdlog::info("{} job(s) finished, {} skipped (already done), {} failed", summary.finished,
               summary.skipped, summary.failures.size());
  if (residency) {
    spdlog::info("offload: weights loaded {} (mllm), {} (dit), {} (vae) times; device peak {}",
                 mllm.weight_loads(), images.dit_loads(), images.vae_loads(),
                 runtime::format_bytes(residency->peak_device_bytes()));
  }
  DUOGEN_CHECK(summary.failures.empty(), Error, "{} of {} job(s) failed; first: {}: {}",
               summary.failures.size(), jobs.size(), summary.failures.front().first,
               summary.failures.front().second);
}

pipeline::Job single_job(const std::string& prompt, const std::vector<std::string>& images) {
  DUOGEN_CHECK(!prompt.empty(), UsageError, "--prompt is empty");
  pipeline::Job job;
  job.id = "image";
  job.source = "command line";
  pipeline::Message m{"user", {}};
  for (const auto& image : images) {
    std::error_code ec;
    DUOGEN_CHECK(fs::is_regular_file(image, ec), UsageError, "--image {}: no such file", image);
    pipeline::ContentPart part;
    part.kind = pipeline::ContentPart::Kind::kImage;
    part.image_path = fs::absolute(image);
    m.content.push_back(part);
  }
  pipeline::ContentPart text;
  text.text = prompt;
  m.content.push_back(text);
  job.messages.push_back(m);
  return job;
}

// t2i / edit with --out F.png: run the one job in a scratch directory beside F, then move its
// image into place (atomic; the scratch directory is removed either way).
void run_single_image(const GenerateArgs& a, const pipeline::Job& job) {
  const fs::path target = fs::absolute(a.out);
  DUOGEN_CHECK(target.extension() == ".png", UsageError, "--out {}: must end in .png", a.out);
  const fs::path scratch =
      target.parent_path() /
      fmt::format(".{}.work-{}", target.filename().string(), static_cast<long>(::getpid()));
  std::error_code ec;
  fs::remove_all(scratch, ec);
  try {
    run(a, {job}, scratch, /*image_only=*/true);
    fs::rename(scratch / job.id / pipeline::image_file_name(1), target, ec);
    DUOGEN_CHECK(!ec, IoError, "cannot write {}: {}", target.string(), ec.message());
  } catch (...) {
    fs::remove_all(scratch, ec);
    throw;
  }
  fs::remove_all(scratch, ec);
  spdlog::info("wrote {}", target.string());
}

// t2i on a diffusers snapshot runs the Cosmos pipeline; the DuoGen-only options are refused by
// name rather than ignored.
void run_snapshot_image(const GenerateArgs& a, bool edit) {
  DUOGEN_CHECK(!edit, UsageError,
               "edit --model {}: a Cosmos-Predict2.5 snapshot has no editing mode (it continues "
               "a first frame into a video: duogen video --image)",
               a.model);
  DUOGEN_CHECK(a.prompts.empty(), UsageError,
               "t2i --jobs with a Cosmos snapshot: use duogen video --jobs (its job format)");
  const std::vector<std::pair<const char*, bool>> duogen_only = {
      {"--mllm", !a.mllm.empty()},
      {"--dit", !a.dit.empty()},
      {"--vae", !a.vae.empty()},
      {"--tokenizer", !a.tokenizer.empty()},
      {"--offload", !a.offload.empty()},
      {"--max-new-tokens", a.max_new_tokens.has_value()},
      {"--max-images", a.max_images.has_value()},
      {"--temperature", a.temperature.has_value()},
      {"--top-k", a.top_k.has_value()},
      {"--top-p", a.top_p.has_value()},
      {"--min-p", a.min_p.has_value()},
      {"--repetition-penalty", a.repetition_penalty.has_value()},
      {"--solver", a.solver.has_value()},
      {"--schedule", a.schedule.has_value()},
      {"--logit-bias", !a.logit_bias.empty()}};
  for (const auto& [flag, given] : duogen_only) {
    DUOGEN_CHECK(!given, UsageError,
                 "{} does not apply to a Cosmos-Predict2.5 snapshot (its text encoder does not "
                 "generate; its scheduler/ config sets the sampler)",
                 flag);
  }
  cli_options(a);  // the --width/--height checks
  CosmosImageArgs c;
  c.model = a.model;
  c.prompt = a.prompt;
  c.out = a.out;
  c.placement = a.placement;
  c.seed = a.seed;
  c.steps = a.steps;
  c.width = a.width;
  c.height = a.height;
  c.guidance = a.guidance;
  run_cosmos_image(c);
}

void run_image_command(const GenerateArgs& a, bool edit) {
  if (!a.model.empty() && io::find_pipeline_snapshot(a.model)) {
    run_snapshot_image(a, edit);
    return;
  }
  if (!a.prompts.empty()) {
    DUOGEN_CHECK(a.prompt.empty() && a.images.empty(), UsageError,
                 "give either --jobs or --prompt/--image, not both");
    run(a, pipeline::read_job_file(a.prompts), a.out, /*image_only=*/true);
    return;
  }
  DUOGEN_CHECK(!edit || !a.images.empty(), UsageError, "edit needs at least one --image");
  run_single_image(a, single_job(a.prompt, a.images));
}

}  // namespace

void add_generate_commands(CLI::App& app) {
  auto gen = std::make_shared<GenerateArgs>();
  auto* generate = app.add_subcommand("generate", "interleaved text-and-image generation");
  add_model_options(generate, *gen);
  generate->add_option("--prompts", gen->prompts, "job file: .json (one job) or .jsonl")
      ->required();
  generate->add_option("--out", gen->out, "output directory (one subdirectory per job)")
      ->required();
  generate->callback([gen] {
    DUOGEN_CHECK(gen->model.empty() || !io::find_pipeline_snapshot(gen->model), UsageError,
                 "generate --model {}: a Cosmos-Predict2.5 snapshot does not write interleaved "
                 "text; run it with duogen video (or duogen t2i)",
                 gen->model);
    run(*gen, pipeline::read_job_file(gen->prompts), gen->out, false);
  });

  auto t2i_args = std::make_shared<GenerateArgs>();
  auto* t2i = app.add_subcommand("t2i", "text-to-image");
  add_model_options(t2i, *t2i_args);
  t2i->add_option("--prompt", t2i_args->prompt, "what to draw");
  t2i->add_option("--jobs", t2i_args->prompts, "job file (.jsonl) instead of --prompt");
  t2i->add_option("--out", t2i_args->out, "F.png (with --prompt) or a directory (with --jobs)")
      ->required();
  t2i->callback([t2i_args] { run_image_command(*t2i_args, false); });

  auto edit_args = std::make_shared<GenerateArgs>();
  auto* edit = app.add_subcommand("edit", "image editing with one or more reference images");
  add_model_options(edit, *edit_args);
  edit->add_option("--image", edit_args->images, "reference image (repeatable)");
  edit->add_option("--prompt", edit_args->prompt, "the edit instruction");
  edit->add_option("--jobs", edit_args->prompts, "job file (.jsonl) instead of --prompt/--image");
  edit->add_option("--out", edit_args->out, "F.png (with --prompt) or a directory (with --jobs)")
      ->required();
  edit->callback([edit_args] { run_image_command(*edit_args, true); });

  auto tiny = std::make_shared<pipeline::TinyModelOptions>();
  auto tiny_out = std::make_shared<std::string>();
  auto* init = app.add_subcommand("init-tiny", "write a tiny random-weight DuoGen model");
  init->add_option("--out", *tiny_out, "model directory to create")->required();
  tiny->tokenizer_dir = "../shared/models/qwen2-tokenizer";
  init->add_option("--tokenizer", tiny->tokenizer_dir, "directory with the Qwen tokenizer.json");
  init->add_option("--seed", tiny->seed, "weight seed");
  init->add_flag("--overwrite", tiny->overwrite, "replace an existing directory");
  init->callback([tiny, tiny_out] {
    pipeline::write_tiny_model(*tiny_out, *tiny);
    spdlog::info("wrote a tiny DuoGen model to {}", *tiny_out);
  });
}

}  // namespace duogen::cli
