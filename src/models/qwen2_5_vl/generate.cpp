#include "models/qwen2_5_vl/generate.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "core/check.h"
#include "tokenizer/incremental_decoder.h"

namespace duogen::qwen2_5_vl {

GenerationResult generate(const Model& model,
                          Session& session,
                          const ChunkInput& prompt,
                          const GenerationOptions& options,
                          const tokenizer::Tokenizer* tokenizer,
                          const TokenCallback& on_token) {
  c10::InferenceMode guard;
  DUOGEN_CHECK(options.max_new_tokens >= 0, InvalidArgument,
               "generate: max_new_tokens must be >= 0, got {}", options.max_new_tokens);
  const std::vector<std::int64_t>& stops =
      options.stop_token_ids.empty() ? model.config().eos_token_ids : options.stop_token_ids;
  sampling::TokenSampler sampler(options.sampling);
  std::optional<tokenizer::IncrementalDecoder> decoder;
  if (tokenizer != nullptr) decoder.emplace(*tokenizer, /*skip_special=*/true);

  const at::Tensor prompt_ids = prompt.input_ids.reshape({-1}).to(at::kCPU).contiguous();
  std::vector<std::int64_t> context(prompt_ids.data_ptr<std::int64_t>(),
                                    prompt_ids.data_ptr<std::int64_t>() + prompt_ids.numel());
  std::vector<at::Tensor> hidden;

  ChunkInput chunk = prompt;
  chunk.logits = LogitsMode::kLast;
  chunk.capture_hidden_states = options.capture_hidden_states;
  chunk.capture_positions.clear();
  GenerationResult result;
  for (std::int64_t step = 0; step < options.max_new_tokens; ++step) {
    const ChunkOutput out = model.forward(session, chunk);
    if (options.capture_hidden_states) hidden.push_back(out.hidden_states);
    const std::int64_t token = sampler.sample(out.logits, context);
    result.tokens.push_back(token);
    context.push_back(token);
    const bool stop = std::find(stops.begin(), stops.end(), token) != stops.end();
    std::string text;
    if (decoder) text = decoder->push(static_cast<std::int32_t>(token));
    if (on_token && !on_token(token, text)) {
      result.stop_reason = StopReason::kCallback;
      break;
    }
    if (stop) {
      result.stop_reason = StopReason::kStopToken;
      break;
    }
    chunk = ChunkInput{};
    chunk.input_ids = at::tensor({token}, at::kLong);
    chunk.capture_hidden_states = options.capture_hidden_states;
  }
  if (decoder && on_token) {
    const std::string rest = decoder->finish();
    if (!rest.empty()) on_token(-1, rest);
  }
  if (options.capture_hidden_states && !hidden.empty()) {
    result.hidden_states = at::cat(hidden, /*dim=*/1);
  }
  return result;
}

}  // namespace duogen::qwen2_5_vl
