#include "pipeline/interleaved.h"

#include <cmath>

#include "core/check.h"
#include "pipeline/timing.h"

namespace duogen::pipeline {

JobResult run_interleaved(ConversationModel& mllm, ImageModel& images, const Job& job,
                          const InterleavedSettings& settings,
                          const InterleavedCallbacks& callbacks) {
  DUOGEN_CHECK(settings.max_new_tokens > 0 && settings.max_images >= 0, InvalidArgument,
               "job '{}': max_new_tokens must be > 0 and max_images >= 0", job.id);
  JobResult result;
  result.job = job;
  result.seed = settings.seed;

  auto start = Clock::now();
  result.prompt_tokens = mllm.start(job.messages, settings.seed);
  add_timing(result.timings_s, "prefill", seconds_since(start));

  std::vector<at::Tensor> conditions = mllm.user_images();
  TextSampling sampling = settings.text;
  // Past the image limit <BOV> can no longer be chosen, so the text goes on without an image.
  const auto suppress_bov = [&] {
    sampling.logit_bias.emplace_back(settings.bov_token_id, -INFINITY);
  };
  if (settings.max_images == 0) suppress_bov();
  std::size_t generated_images = 0;
  std::string text;
  const auto emit_text = [&](const std::string& piece) {
    if (piece.empty()) return;
    text += piece;
    if (callbacks.on_text) callbacks.on_text(piece);
  };
  const auto close_text = [&] {
    emit_text(mllm.flush_text());
    if (!text.empty()) result.segments.push_back({OutputSegment::Kind::kText, text, {}, {}});
    text.clear();
  };

  double decode_seconds = 0;
  result.stop_reason = "max_new_tokens";
  while (result.generated_tokens < settings.max_new_tokens) {
    if (callbacks.on_step) callbacks.on_step();
    start = Clock::now();
    std::int64_t token = settings.bov_token_id;
    if (settings.image_only && result.generated_tokens == 0) {
      mllm.force_next(token);
    } else {
      token = mllm.sample_next(sampling);
    }
    decode_seconds += seconds_since(start);
    ++result.generated_tokens;
    if (settings.stop_token_ids.count(token) != 0) {
      result.stop_reason = "stop_token";
      break;
    }
    if (token != settings.bov_token_id) {
      emit_text(mllm.token_text(token));
      continue;
    }
    // <BOV>: the context is every token before it; the image closes the text segment so far.
    close_text();
    const std::int64_t bov = mllm.length() - 1;
    ImageRequest request = settings.image;
    request.context = mllm.hidden_states(bov);
    request.zero_negative = settings.cfg_negative == CfgNegative::kZeroContext;
    request.negative_length = negative_context_length(mllm.marks(), bov, settings.cfg_negative);
    request.condition_images = conditions;
    const std::size_t index = ++generated_images;
    request.seed = settings.seed + index - 1;
    start = Clock::now();
    at::Tensor image = images.generate(request, callbacks.on_image_progress, result.timings_s);
    add_timing(result.timings_s, "image_total", seconds_since(start));
    io::PngText params = {{"job", job.id},
                          {"image", std::to_string(index)},
                          {"seed", std::to_string(request.seed)},
                          {"steps", std::to_string(request.steps)},
                          {"guidance", fmt::format("{}", request.guidance)},
                          {"solver", request.solver},
                          {"schedule", request.schedule},
                          {"condition_frames", std::to_string(request.condition_images.size())},
                          {"Software", "duogen"}};
    result.segments.push_back({OutputSegment::Kind::kImage, {}, image, std::move(params)});
    if (callbacks.on_image) callbacks.on_image(index, result.segments.back());
    conditions.push_back(image);
    start = Clock::now();
    mllm.append_image(image);
    add_timing(result.timings_s, "append_image", seconds_since(start));
    if (settings.image_only) {
      result.stop_reason = "image_only";
      break;
    }
    if (static_cast<std::int64_t>(index) >= settings.max_images) suppress_bov();
  }
  close_text();
  add_timing(result.timings_s, "decode", decode_seconds);
  return result;
}

}  // namespace duogen::pipeline
