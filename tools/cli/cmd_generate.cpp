// duogen generate --model DIR --prompts F.json|F.jsonl --out DIR      interleaved text + images
// duogen t2i      --model DIR --prompt TEXT --out F.png                one image from text
// duogen edit     --model DIR --image A [--image B]... --prompt TEXT --out F.png
// duogen init-tiny --out DIR [--tokenizer DIR]                         a tiny random model
// t2i and edit also take --jobs F.jsonl --out DIR for scripted batches. Components can be given
// separately (--mllm, --dit, --vae, --tokenizer) instead of, or over, --model's duogen.json.
// These commands use the public API only (duogen/duogen.h).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device_options.h"
#include "duogen/duogen.h"

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
  std::string attention_table;  // bench_kernels --table-out; empty: the built-in order
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
  cmd->add_option("--attention-table", a.attention_table,
                  "measured attention table (bench_kernels --table-out): the fastest backend per "
                  "call site on this GPU")
      ->check(CLI::ExistingFile);
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

JobOptions cli_options(const GenerateArgs& a) {
  JobOptions o;
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
    if (eq == std::string::npos || eq == 0) {
      throw UsageError(fmt::format("--logit-bias '{}': expected TOKEN=BIAS", entry));
    }
    double bias = 0;
    std::size_t used = 0;
    try {
      bias = std::stod(entry.substr(eq + 1), &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    if (used == 0 || used != entry.size() - eq - 1) {
      throw UsageError(fmt::format("--logit-bias '{}': bad number", entry));
    }
    o.logit_bias.emplace_back(entry.substr(0, eq), bias);
  }
  for (const auto side : {a.width, a.height}) {
    if (side && *side % 16 != 0) {
      throw UsageError(fmt::format("--width/--height must be multiples of 16, got {}", *side));
    }
  }
  return o;
}

EngineOptions engine_options(const GenerateArgs& a) {
  EngineOptions o;
  o.model = a.model;
  o.mllm = a.mllm;
  o.dit = a.dit;
  o.vae = a.vae;
  o.tokenizer = a.tokenizer;
  o.device = a.placement.device;
  o.dtype = a.placement.dtype.value_or("");
  o.offload = a.offload;
  o.attention_table = a.attention_table;
  if (!a.offload.empty()) {
    try {
      parse_byte_size(a.offload);
    } catch (const InvalidArgument& e) {
      throw UsageError(fmt::format("--offload: {}", e.what()));
    }
  }
  o.defaults = cli_options(a);
  return o;
}

// Sampling progress: a bar on a terminal, a few plain lines in logs.
auto progress_printer() {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  return [tty](std::size_t image, std::int64_t step, std::int64_t steps) {
    if (tty) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * step / steps);
      fmt::print(stderr, "\r  image {} [{}{}] {}/{}", image, std::string(filled, '#'),
                 std::string(kWidth - filled, '.'), step, steps);
      if (step == steps) fmt::print(stderr, "\n");
      std::fflush(stderr);
    } else if (step == steps || step % std::max<std::int64_t>(1, steps / 4) == 0) {
      spdlog::info("image {} sampling step {}/{}", image, step, steps);
    }
  };
}

void run(const GenerateArgs& a, const std::vector<Job>& jobs, const fs::path& out_dir,
         bool image_only) {
  const EngineOptions options = engine_options(a);
  const std::unique_ptr<Engine> engine = Engine::load(options);
  BatchOptions batch;
  batch.out_dir = out_dir;
  batch.image_only = image_only;
  BatchCallbacks callbacks;
  if (!a.quiet && !image_only) {
    callbacks.generation.on_text = [](std::string_view piece) {
      fmt::print("{}", piece);
      std::fflush(stdout);
    };
  }
  callbacks.generation.on_image = [](std::size_t index, const Image& image) {
    spdlog::info("image {} done ({}x{})", index, image.width, image.height);
  };
  callbacks.generation.on_image_progress = progress_printer();
  callbacks.on_job_start = [](const Job& job, std::size_t i, std::size_t n) {
    spdlog::info("job {}/{}: {}", i, n, job.id);
  };
  callbacks.on_job_done = [&](const Job&, const fs::path& dir) {
    if (!a.quiet && !image_only) fmt::print("\n");
    spdlog::info("wrote {}", dir.string());
  };
  const BatchSummary summary = engine->run_batch(jobs, batch, callbacks);
  spdlog::info("{} job(s) finished, {} skipped (already done), {} failed", summary.finished,
               summary.skipped, summary.failures.size());
  if (!options.offload.empty()) {
    const EngineStats s = engine->stats();
    spdlog::info("offload: weights loaded {} (mllm), {} (dit), {} (vae) times; device peak {} "
                 "bytes",
                 s.mllm_loads, s.dit_loads, s.vae_loads, s.offload_peak_bytes);
  }
  if (!summary.failures.empty()) {
    throw Error(fmt::format("{} of {} job(s) failed; first: {}: {}", summary.failures.size(),
                            jobs.size(), summary.failures.front().first,
                            summary.failures.front().second));
  }
}

template <typename... Args>
void require(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

Job single_job(const std::string& prompt, const std::vector<std::string>& images) {
  require(!prompt.empty(), "--prompt is empty");
  Job job;
  job.id = "image";
  job.source = "command line";
  Message m{"user", {}};
  for (const auto& image : images) {
    std::error_code ec;
    require(fs::is_regular_file(image, ec), "--image {}: no such file", image);
    m.content.push_back(image_part(image));
  }
  m.content.push_back(text_part(prompt));
  job.messages.push_back(m);
  return job;
}

// t2i / edit with --out F.png: one image, written atomically (the same bytes as image-1.png of
// `generate` for the same job, generation parameters in its tEXt chunks).
void run_single_image(const GenerateArgs& a, const Job& job) {
  require(fs::path(a.out).extension() == ".png", "--out {}: must end in .png", a.out);

  const std::unique_ptr<Engine> engine = Engine::load(engine_options(a));
  engine->check(job);
  GenerationCallbacks callbacks;
  callbacks.on_image_progress = progress_printer();
  const GenerationResult result = engine->generate_image(job, callbacks);
  std::error_code ec;
  const fs::path parent = fs::absolute(a.out).parent_path();
  fs::create_directories(parent, ec);
  if (ec) {
    throw IoError(fmt::format("--out {}: cannot create {}: {}", a.out, parent.string(),
                              ec.message()));
  }
  for (const auto& part : result.parts) {
    if (part.kind == OutputPart::Kind::kImage) save_png(a.out, part.image);
  }
  spdlog::info("wrote {}", a.out);
}

// A Cosmos-Predict2.5 snapshot: text-to-image only; the DuoGen-only options are refused by name
// rather than ignored.
void check_snapshot_args(const GenerateArgs& a, bool edit) {
  require(!edit,
          "edit --model {}: a Cosmos-Predict2.5 snapshot has no editing mode (it continues a first "
          "frame into a video: duogen video --image)",
          a.model);
  require(a.prompts.empty(),
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
    require(!given,
            "{} does not apply to a Cosmos-Predict2.5 snapshot (its text encoder does not "
            "generate; its scheduler/ config sets the sampler)",
            flag);
  }
}

bool is_snapshot(const std::string& model) {
  try {
    return !model.empty() && detect_model(model) == ModelKind::kCosmosSnapshot;
  } catch (const InvalidArgument&) {
    return false;  // neither: loading it names what is missing
  }
}

void run_image_command(const GenerateArgs& a, bool edit) {
  if (is_snapshot(a.model)) {
    check_snapshot_args(a, edit);
    run_single_image(a, single_job(a.prompt, {}));
    return;
  }
  if (!a.prompts.empty()) {
    require(a.prompt.empty() && a.images.empty(), "give either --jobs or --prompt/--image, not both");
    run(a, read_job_file(a.prompts), a.out, /*image_only=*/true);
    return;
  }
  require(!edit || !a.images.empty(), "edit needs at least one --image");
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
    require(!is_snapshot(gen->model),
            "generate --model {}: a Cosmos-Predict2.5 snapshot does not write interleaved text; "
            "run it with duogen video (or duogen t2i)",
            gen->model);
    run(*gen, read_job_file(gen->prompts), gen->out, false);
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

  auto tiny = std::make_shared<TinyModelOptions>();
  auto tiny_out = std::make_shared<std::string>();
  auto* init = app.add_subcommand("init-tiny", "write a tiny random-weight DuoGen model");
  init->add_option("--out", *tiny_out, "model directory to create")->required();
  tiny->tokenizer_dir = "../shared/models/qwen2-tokenizer";
  init->add_option("--tokenizer", tiny->tokenizer_dir, "directory with the Qwen tokenizer.json");
  init->add_option("--seed", tiny->seed, "weight seed");
  init->add_flag("--overwrite", tiny->overwrite, "replace an existing directory");
  init->callback([tiny, tiny_out] {
    write_tiny_model(*tiny_out, *tiny);
    spdlog::info("wrote a tiny DuoGen model to {}", *tiny_out);
  });
}

}  // namespace duogen::cli
