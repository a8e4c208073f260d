// duogen::Engine (duogen/duogen.h) over the pipeline: a DuoGen model (QwenConversation +
// DuoGenImageModel, run by pipeline::run_interleaved / run_jobs) or a Cosmos-Predict2.5
// snapshot (pipeline::cosmos::WorldPipeline with one frame).
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "api/convert.h"
#include "core/check.h"
#include "core/device.h"
#include "core/dtype.h"
#include "duogen/duogen.h"
#include "io/pipeline_snapshot.h"
#include "pipeline/cosmos/world_pipeline.h"
#include "pipeline/duogen_image_model.h"
#include "pipeline/manifest.h"
#include "pipeline/qwen_conversation.h"
#include "pipeline/runner.h"
#include "pipeline/timing.h"
#include "runtime/attention_table.h"
#include "runtime/byte_size.h"
#include "runtime/residency.h"

namespace duogen {

namespace fs = std::filesystem;

struct Engine::Impl {
  ModelInfo info;
  JobOptions caller_defaults;
  // DuoGen
  std::optional<pipeline::ModelManifest> manifest;
  std::shared_ptr<runtime::ResidencyManager> residency;
  // Shared by every model of the engine: the measured table and the per-site usage counts.
  std::shared_ptr<const ops::AttentionDispatch> attention;
  std::unique_ptr<pipeline::QwenConversation> mllm;
  std::unique_ptr<pipeline::DuoGenImageModel> images;
  // Cosmos-Predict2.5 snapshot
  std::unique_ptr<pipeline::cosmos::WorldPipeline> world;
  mutable std::mutex mutex;  // one generation at a time

  pipeline::TokenLookup lookup() const {
    return [this](const std::string& token) { return mllm->token_id(token); };
  }
  void check(const Job& job) const;
  GenerationResult run_duogen(const Job& job, const GenerationCallbacks& callbacks,
                              std::stop_token stop, bool image_only);
  GenerationResult run_world(const Job& job, const GenerationCallbacks& callbacks,
                             std::stop_token stop);
};

namespace {

const std::string& name_of(const Job& job) { return job.source.empty() ? job.id : job.source; }

[[noreturn]] void cancelled(const Job& job) {
  throw Cancelled(fmt::format("job '{}': cancelled", job.id));
}

// Callbacks for the pipeline: the caller's, with image numbering and the stop checks.
pipeline::InterleavedCallbacks pipeline_callbacks(const Job& job,
                                                  const GenerationCallbacks& callbacks,
                                                  std::stop_token stop,
                                                  std::shared_ptr<std::size_t> images_done) {
  pipeline::InterleavedCallbacks out;
  out.on_text = callbacks.on_text;
  out.on_step = [stop, &job] {
    if (stop.stop_requested()) cancelled(job);
  };
  out.on_image_progress = [stop, &job, images_done, on = callbacks.on_image_progress](
                              std::int64_t step, std::int64_t steps) {
    if (stop.stop_requested()) cancelled(job);
    if (on) on(*images_done + 1, step, steps);
  };
  out.on_image = [images_done, on = callbacks.on_image](std::size_t index,
                                                        const pipeline::OutputSegment& s) {
    *images_done = index;
    if (on) on(index, api::to_image(s.image, s.image_params));
  };
  return out;
}

GenerationResult to_result(const pipeline::JobResult& r) {
  GenerationResult out;
  out.job_id = r.job.id;
  out.prompt_tokens = r.prompt_tokens;
  out.completion_tokens = r.generated_tokens;
  out.seed = r.seed;
  out.stop_reason = r.stop_reason;
  out.timings_s = r.timings_s;
  for (const auto& s : r.segments) {
    OutputPart part;
    if (s.kind == pipeline::OutputSegment::Kind::kText) {
      part.text = s.text;
    } else {
      part.kind = OutputPart::Kind::kImage;
      part.image = api::to_image(s.image, s.image_params);
      ++out.images;
    }
    out.parts.push_back(std::move(part));
  }
  return out;
}

void check_messages(const Job& job) {
  const std::string& source = name_of(job);
  if (job.messages.empty()) throw FieldError("messages", source + ": 'messages' is empty");
  for (std::size_t i = 0; i < job.messages.size(); ++i) {
    const Message& m = job.messages[i];
    const std::string field = fmt::format("messages[{}]", i);
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      throw FieldError(field + ".role", fmt::format("{}: '{}.role': must be system, user or "
                                                    "assistant, got '{}'",
                                                    source, field, m.role));
    }
    for (std::size_t j = 0; j < m.content.size(); ++j) {
      const ContentPart& p = m.content[j];
      if (p.kind == ContentPart::Kind::kImage && p.image_path.empty() && p.image_bytes.empty()) {
        const std::string f = fmt::format("{}.content[{}]", field, j);
        throw FieldError(f, fmt::format("{}: '{}': an image part needs a path or bytes", source, f));
      }
    }
  }
  if (job.messages.back().role != "user") {
    const std::string f = fmt::format("messages[{}]", job.messages.size() - 1);
    throw FieldError(f, fmt::format("{}: '{}': the last message must be the user's", source, f));
  }
  if (!is_valid_job_id(job.id)) {
    throw FieldError("id", fmt::format("{}: job id '{}' is not usable ([A-Za-z0-9._-], not "
                                       "starting with '.', at most 128 characters)",
                                       source, job.id));
  }
}

// The prompt a text-to-image pipeline gets: the text of the last user message.
std::string last_user_text(const Job& job) {
  std::string text;
  for (const auto& part : job.messages.back().content) {
    if (part.kind == ContentPart::Kind::kText) text += (text.empty() ? "" : "\n") + part.text;
  }
  return text;
}

}  // namespace

void Engine::Impl::check(const Job& job) const {
  check_messages(job);
  check_options(job.options, name_of(job));
  if (manifest) {
    pipeline::resolve_settings(*manifest, caller_defaults, job, lookup(), mllm->stop_token_ids());
    return;
  }
  const JobOptions& o = job.options;
  const std::vector<std::pair<const char*, bool>> duogen_only = {
      {"max_new_tokens", o.max_new_tokens.has_value()},
      {"max_images", o.max_images.has_value()},
      {"temperature", o.temperature.has_value()},
      {"top_k", o.top_k.has_value()},
      {"top_p", o.top_p.has_value()},
      {"min_p", o.min_p.has_value()},
      {"repetition_penalty", o.repetition_penalty.has_value()},
      {"solver", o.solver.has_value()},
      {"schedule", o.schedule.has_value()},
      {"logit_bias", !o.logit_bias.empty()}};
  for (const auto& [field, given] : duogen_only) {
    if (given) {
      throw FieldError(field, fmt::format("{}: '{}' does not apply to a Cosmos-Predict2.5 "
                                          "snapshot (its scheduler config sets the sampler and "
                                          "its text encoder does not generate)",
                                          name_of(job), field));
    }
  }
  for (const auto& m : job.messages) {
    for (const auto& p : m.content) {
      if (p.kind == ContentPart::Kind::kImage) {
        throw FieldError("messages", fmt::format("{}: a Cosmos-Predict2.5 snapshot has no "
                                                 "editing mode: the job may not hold images",
                                                 name_of(job)));
      }
    }
  }
  if (last_user_text(job).empty()) {
    throw FieldError("messages", name_of(job) + ": the last user message has no text");
  }
}

GenerationResult Engine::Impl::run_duogen(const Job& job, const GenerationCallbacks& callbacks,
                                          std::stop_token stop, bool image_only) {
  check(job);
  pipeline::InterleavedSettings settings = pipeline::resolve_settings(
      *manifest, caller_defaults, job, lookup(), mllm->stop_token_ids());
  settings.image_only = image_only;
  if (stop.stop_requested()) cancelled(job);
  const auto cb = pipeline_callbacks(job, callbacks, stop, std::make_shared<std::size_t>(0));
  return to_result(pipeline::run_interleaved(*mllm, *images, job, settings, cb));
}

GenerationResult Engine::Impl::run_world(const Job& job, const GenerationCallbacks& callbacks,
                                         std::stop_token stop) {
  check(job);
  const JobOptions o = pipeline::merge_options(info.defaults, job.options);
  pipeline::cosmos::WorldRequest request;
  request.prompt = last_user_text(job);
  request.num_frames = 1;
  request.seed = *o.seed;
  request.steps = static_cast<int>(*o.steps);
  request.guidance = *o.guidance;
  request.width = *o.width;
  request.height = *o.height;
  pipeline::cosmos::check_request(request);
  pipeline::cosmos::WorldProgress progress;
  progress.step = [&](int step, int steps) {
    if (stop.stop_requested()) cancelled(job);
    if (callbacks.on_image_progress) callbacks.on_image_progress(1, step, steps);
  };
  if (stop.stop_requested()) cancelled(job);
  const auto start = pipeline::Clock::now();
  const pipeline::cosmos::WorldResult world_result = world->run(request, progress);
  GenerationResult out;
  out.job_id = job.id;
  out.seed = request.seed;
  out.stop_reason = "image_only";
  out.images = 1;
  out.timings_s = {{"image_total", pipeline::seconds_since(start)}};
  OutputPart part;
  part.kind = OutputPart::Kind::kImage;
  part.image = api::to_image(world_result.frames[0],
                             {{"job", job.id},
                              {"image", "1"},
                              {"seed", std::to_string(request.seed)},
                              {"steps", std::to_string(request.steps)},
                              {"guidance", fmt::format("{}", request.guidance)},
                              {"model", world->snapshot().class_name},
                              {"Software", "duogen"}});
  if (callbacks.on_image) callbacks.on_image(1, part.image);
  out.parts.push_back(std::move(part));
  return out;
}

std::unique_ptr<Engine> Engine::load(const EngineOptions& options) {
  auto impl = std::make_unique<Impl>();
  DevicePlacement placement;
  placement.device = parse_device(options.device);
  check_device_available(placement.device);
  placement.dtype = options.dtype.empty()
                        ? (placement.device.is_cuda() ? c10::kBFloat16 : c10::kFloat)
                        : parse_float_dtype(options.dtype);
  check_options(options.defaults, "engine defaults");
  impl->caller_defaults = options.defaults;
  if (options.attention_table.empty()) {
    impl->attention = std::make_shared<ops::AttentionDispatch>();
  } else {
    runtime::AttentionTable table = runtime::read_attention_table(options.attention_table);
    spdlog::info("attention table {}: {} measurements on {} (sm {})",
                 options.attention_table.string(), table.measurements.size(), table.device,
                 table.compute_capability);
    impl->attention = std::make_shared<ops::AttentionDispatch>(std::move(table.measurements));
  }
  ModelInfo& info = impl->info;
  info.device = placement.device.str();
  info.dtype = c10::toString(placement.dtype);
  const bool components = !options.mllm.empty() || !options.dit.empty() || !options.vae.empty() ||
                          !options.tokenizer.empty();
  // Anything but a snapshot is read as a manifest, whose errors name what is missing.
  info.kind = !options.model.empty() && io::find_pipeline_snapshot(options.model)
                  ? ModelKind::kCosmosSnapshot
                  : ModelKind::kDuoGen;
  info.path = options.model.empty() ? options.mllm : fs::absolute(options.model);
  info.id = fs::absolute(info.path).lexically_normal().filename().string();
  if (info.id.empty()) info.id = fs::absolute(info.path).parent_path().filename().string();

  if (info.kind == ModelKind::kCosmosSnapshot) {
    DUOGEN_CHECK(!components && options.offload.empty(), InvalidArgument,
                 "{}: a Cosmos-Predict2.5 snapshot takes no separate mllm/dit/vae/tokenizer "
                 "components and no offload budget",
                 options.model.string());
    const io::PipelineSnapshot snapshot = io::read_pipeline_snapshot(options.model);
    pipeline::cosmos::WorldPipelineOptions o;
    o.dtype = placement.dtype;
    o.device = placement.device;
    o.attention = impl->attention;
    spdlog::info("loading {} from {} ({}, {})", snapshot.class_name, snapshot.root.string(),
                 info.device, info.dtype);
    impl->world = std::make_unique<pipeline::cosmos::WorldPipeline>(
        pipeline::cosmos::WorldPipeline::load(snapshot, o));
    const pipeline::cosmos::WorldRequest d;
    JobOptions defaults;
    defaults.seed = d.seed;
    defaults.steps = d.steps;
    defaults.guidance = d.guidance;
    defaults.width = d.width;
    defaults.height = d.height;
    info.defaults = pipeline::merge_options(defaults, options.defaults);
    Job probe;  // the caller's defaults must be options the snapshot honours
    probe.id = "defaults";
    probe.messages = {{"user", {text_part("defaults")}}};
    probe.options = options.defaults;
    impl->check(probe);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
  }

  std::optional<pipeline::ModelManifest> base;
  if (!options.model.empty()) base = pipeline::read_manifest(options.model);
  const auto opt = [](const fs::path& p) {
    return p.empty() ? std::optional<fs::path>() : std::optional<fs::path>(p);
  };
  impl->manifest = pipeline::resolve_components(base, opt(options.mllm), opt(options.dit),
                                                opt(options.vae), opt(options.tokenizer));
  if (!options.offload.empty()) {
    std::uint64_t budget = 0;
    try {
      budget = runtime::parse_byte_size(options.offload);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("offload: {}", e.what()));
    }
    impl->residency = std::make_shared<runtime::ResidencyManager>(budget);
    spdlog::info("offload mode: {} of device memory for the model weights",
                 runtime::format_bytes(budget));
  }
  const pipeline::ModelManifest& manifest = *impl->manifest;
  spdlog::info("loading the MLLM from {} ({}, {})", manifest.mllm.string(), info.device,
               info.dtype);
  impl->mllm = std::make_unique<pipeline::QwenConversation>(
      manifest, pipeline::ConversationOptions{placement.dtype, placement.device,
                                              pipeline::ConversationOptions{}.context_capacity,
                                              impl->residency, impl->attention});
  spdlog::info("loading the DiT from {} and the VAE from {}", manifest.dit.string(),
               manifest.vae.string());
  impl->images = std::make_unique<pipeline::DuoGenImageModel>(
      manifest, pipeline::ImageModelOptions{placement.dtype, placement.device, impl->residency,
                                            impl->attention});
  impl->images->check_context_width(impl->mllm->config().text.num_hidden_layers,
                                    impl->mllm->config().text.hidden_size, manifest.mllm);
  info.defaults = pipeline::merge_options(manifest.defaults, options.defaults);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

const ModelInfo& Engine::info() const { return impl_->info; }

void Engine::check(const Job& job) const { impl_->check(job); }

GenerationResult Engine::generate(const Job& job, const GenerationCallbacks& callbacks,
                                  std::stop_token stop) {
  DUOGEN_CHECK(impl_->manifest.has_value(), InvalidArgument,
               "{}: a Cosmos-Predict2.5 snapshot generates images only (generate_image), not "
               "interleaved text",
               impl_->info.id);
  if (stop.stop_requested()) cancelled(job);  // without waiting for the running generation
  const std::lock_guard lock(impl_->mutex);
  return impl_->run_duogen(job, callbacks, stop, /*image_only=*/false);
}

GenerationResult Engine::generate_image(const Job& job, const GenerationCallbacks& callbacks,
                                        std::stop_token stop) {
  if (stop.stop_requested()) cancelled(job);
  const std::lock_guard lock(impl_->mutex);
  if (impl_->world) return impl_->run_world(job, callbacks, stop);
  return impl_->run_duogen(job, callbacks, stop, /*image_only=*/true);
}

BatchSummary Engine::run_batch(const std::vector<Job>& jobs, const BatchOptions& options,
                               const BatchCallbacks& callbacks, std::stop_token stop) {
  DUOGEN_CHECK(impl_->manifest.has_value(), InvalidArgument,
               "{}: run_batch needs a DuoGen model; a Cosmos-Predict2.5 snapshot runs its jobs "
               "with duogen video --jobs",
               impl_->info.id);
  const std::lock_guard lock(impl_->mutex);
  pipeline::RunOptions run;
  run.out_dir = options.out_dir;
  run.cli = impl_->caller_defaults;
  run.keep_going = options.keep_going;
  run.image_only = options.image_only;
  // The job the pipeline is on, for the cancellation message and the image numbering.
  auto current = std::make_shared<Job>();
  auto images_done = std::make_shared<std::size_t>(0);
  pipeline::RunCallbacks cb;
  cb.generation = pipeline_callbacks(*current, callbacks.generation, stop, images_done);
  cb.on_job_start = [&](const Job& job, std::size_t index, std::size_t total) {
    *current = job;
    *images_done = 0;
    if (callbacks.on_job_start) callbacks.on_job_start(job, index, total);
  };
  cb.on_job_done = callbacks.on_job_done;
  const pipeline::RunSummary s = pipeline::run_jobs(jobs, *impl_->manifest, *impl_->mllm,
                                                    *impl_->images, impl_->lookup(),
                                                    impl_->mllm->stop_token_ids(), run, cb);
  return {s.finished, s.skipped, s.failures};
}

EngineStats Engine::stats() const {
  const std::lock_guard lock(impl_->mutex);
  EngineStats s;
  for (const auto& [site, backends] : impl_->attention->usage()) {
    for (const auto& [backend, calls] : backends) {
      s.attention_calls[std::string(ops::site_name(site))][std::string(ops::backend_name(backend))] =
          calls;
    }
  }
  if (!impl_->manifest) return s;
  s.mllm_loads = impl_->mllm->weight_loads();
  s.retained_bytes = impl_->mllm->retained_bytes() + impl_->images->retained_bytes();
  s.retained_tokens = impl_->mllm->retained_tokens();
  s.dit_loads = impl_->images->dit_loads();
  s.vae_loads = impl_->images->vae_loads();
  if (impl_->residency) {
    s.offload_budget_bytes = impl_->residency->budget();
    s.offload_peak_bytes = impl_->residency->peak_device_bytes();
  }
  return s;
}

}  // namespace duogen
