// Autoregressive generation with a Qwen2.5-VL Model: prefill a chunk, then sample token by token
// with the KV cache until a stop token or max_new_tokens, streaming each token and its text.
//
// Like transformers' generate, the returned tokens include the stop token that ended generation;
// the session then holds every token but that last one (it was never fed back), so a caller
// continuing the conversation forwards it first.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "models/qwen2_5_vl/model.h"
#include "sampling/token_sampler.h"
#include "tokenizer/tokenizer.h"

namespace duogen::qwen2_5_vl {

struct GenerationOptions {
  std::int64_t max_new_tokens = 512;
  std::vector<std::int64_t> stop_token_ids;  // empty: the config's eos_token_ids
  sampling::SamplingOptions sampling;
  // Keep the hidden states of every token fed to the model (prompt and generated), e.g. for the
  // DiT connector when the model emits <BOV>.
  bool capture_hidden_states = false;
};

enum class StopReason { kStopToken, kMaxNewTokens, kCallback };

struct GenerationResult {
  std::vector<std::int64_t> tokens;  // generated ids, the stop token included
  StopReason stop_reason = StopReason::kMaxNewTokens;
  // [L + 1, n, H] for the n tokens fed (prompt + tokens but the last); undefined unless asked.
  at::Tensor hidden_states;
};

// Called once per generated token with the text that became final with it (the tokenizer's
// IncrementalDecoder, special tokens skipped; empty without a tokenizer). Return false to stop.
using TokenCallback = std::function<bool(std::int64_t token, std::string_view text)>;

// Prefills `prompt` (after whatever the session holds) and generates. `tokenizer` may be null.
// The final held-back text (an incomplete UTF-8 tail) is passed with token -1 at the end.
GenerationResult generate(const Model& model,
                          Session& session,
                          const ChunkInput& prompt,
                          const GenerationOptions& options,
                          const tokenizer::Tokenizer* tokenizer = nullptr,
                          const TokenCallback& on_token = {});

}  // namespace duogen::qwen2_5_vl
