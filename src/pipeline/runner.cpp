#include "pipeline/runner.h"

#include <spdlog/spdlog.h>

#include "core/check.h"

namespace duogen::pipeline {

InterleavedSettings resolve_settings(const ModelManifest& model, const JobOptions& cli,
                                     const Job& job, const TokenLookup& lookup,
                                     const std::set<std::int64_t>& stop_token_ids) {
  const JobOptions o = merge_options(merge_options(model.defaults, cli), job.options);
  InterleavedSettings s;
  s.bov_token_id = model.bov_token_id;
  s.stop_token_ids = stop_token_ids;
  s.max_new_tokens = o.max_new_tokens.value();
  s.max_images = o.max_images.value();
  s.cfg_negative = model.cfg_negative;
  s.seed = o.seed.value();
  s.text.temperature = o.temperature.value();
  s.text.top_k = o.top_k.value();
  s.text.top_p = o.top_p.value();
  s.text.min_p = o.min_p.value();
  s.text.repetition_penalty = o.repetition_penalty.value();
  for (const auto& [token, bias] : o.logit_bias) {
    const auto id = lookup(token);
    if (!id) {
      throw FieldError("logit_bias", fmt::format("{} (job '{}'): 'logit_bias': the vocabulary "
                                                 "has no token '{}'",
                                                 job.source, job.id, token));
    }
    s.text.logit_bias.emplace_back(*id, bias);
  }
  s.image.width = o.width.value();
  s.image.height = o.height.value();
  s.image.steps = o.steps.value();
  s.image.guidance = o.guidance.value();
  s.image.solver = o.solver.value();
  s.image.schedule = o.schedule.value();
  return s;
}

nlohmann::json settings_json(const InterleavedSettings& s, const ModelManifest& model) {
  nlohmann::json bias = nlohmann::json::object();
  for (const auto& [id, value] : s.text.logit_bias) bias[std::to_string(id)] = value;
  return {{"seed", s.seed},
          {"max_new_tokens", s.max_new_tokens},
          {"max_images", s.max_images},
          {"temperature", s.text.temperature},
          {"top_k", s.text.top_k},
          {"top_p", s.text.top_p},
          {"min_p", s.text.min_p},
          {"repetition_penalty", s.text.repetition_penalty},
          {"logit_bias", bias},
          {"width", s.image.width},
          {"height", s.image.height},
          {"steps", s.image.steps},
          {"guidance", s.image.guidance},
          {"solver", s.image.solver},
          {"schedule", s.image.schedule},
          {"shift", model.shift},
          {"noise", model.noise},
          {"cfg_negative", to_string(model.cfg_negative)},
          {"bov_token_id", model.bov_token_id}};
}

RunSummary run_jobs(const std::vector<Job>& jobs, const ModelManifest& model,
                    ConversationModel& mllm, ImageModel& images, const TokenLookup& lookup,
                    const std::set<std::int64_t>& stop_token_ids, const RunOptions& options,
                    const RunCallbacks& callbacks) {
  RunSummary summary;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    if (job_finished(options.out_dir, job.id)) {
      spdlog::info("job {}/{} '{}': already finished in {}, skipped", i + 1, jobs.size(), job.id,
                   (options.out_dir / job.id).string());
      ++summary.skipped;
      continue;
    }
    if (callbacks.on_job_start) callbacks.on_job_start(job, i + 1, jobs.size());
    try {
      InterleavedSettings settings =
          resolve_settings(model, options.cli, job, lookup, stop_token_ids);
      settings.image_only = options.image_only;
      JobResult result = run_interleaved(mllm, images, job, settings, callbacks.generation);
      result.settings = settings_json(settings, model);
      const auto dir = write_job_outputs(options.out_dir, result);
      ++summary.finished;
      if (callbacks.on_job_done) callbacks.on_job_done(job, dir);
    } catch (const Cancelled&) {
      throw;  // the caller stopped the whole run
    } catch (const Error& e) {
      // Bad input for this job (a corrupt image, an unknown token): the others still run.
      summary.failures.emplace_back(job.id, e.what());
      spdlog::error("job '{}' failed: {}", job.id, e.what());
      if (!options.keep_going) throw;
    }
  }
  return summary;
}

}  // namespace duogen::pipeline
