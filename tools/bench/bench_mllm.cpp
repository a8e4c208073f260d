// bench_mllm: prefill and decode speed of the Qwen2.5-VL language model on CPU.
//
//   build/tools/bench/bench_mllm MODEL_DIR PROMPT_TOKENS DECODE_TOKENS [--dtype bf16]
//
// Prints one JSON line: prefill of PROMPT_TOKENS random text ids (one forward, last-token
// logits), then DECODE_TOKENS greedy single-token steps through the KV cache; tokens/s of each,
// as a user sees them after one load (no warm-up). The ids are drawn with at::manual_seed(0) as
// bench_mllm.py draws them with torch.manual_seed(0), so both implementations see the same prompt.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "core/dtype.h"
#include "duogen/error.h"
#include "models/qwen2_5_vl/model.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: bench_mllm MODEL_DIR PROMPT_TOKENS DECODE_TOKENS [--dtype X]\n";
    return 2;
  }
  try {
    const std::int64_t prompt_tokens = std::stoll(argv[2]), decode_tokens = std::stoll(argv[3]);
    duogen::qwen2_5_vl::ModelOptions options;
    std::string dtype_name = "f32";
    for (int i = 4; i < argc; ++i) {
      if (std::string(argv[i]) == "--dtype" && i + 1 < argc) dtype_name = argv[++i];
    }
    options.dtype = duogen::parse_float_dtype(dtype_name);
    options.cache.initial_capacity = prompt_tokens + decode_tokens;  // no regrowth while timed
    c10::InferenceMode guard;
    const auto model = duogen::qwen2_5_vl::Model::load(argv[1], options);
    at::manual_seed(0);
    // Below the special tokens, so no id is an image token.
    const std::int64_t text_vocab =
        std::min(model.config().text.vocab_size, model.config().vision_start_token_id);
    const at::Tensor ids = at::randint(text_vocab, {prompt_tokens}, at::kLong);

    auto session = model.new_session();
    auto start = std::chrono::steady_clock::now();
    at::Tensor logits = model.forward(session, duogen::qwen2_5_vl::ChunkInput{ids}).logits;
    const double prefill = seconds_since(start);
    start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < decode_tokens; ++i) {
      logits = model.decode_step(session, logits.argmax(-1).item<std::int64_t>());
    }
    const double decode = seconds_since(start);
    std::printf(
        "{\"impl\": \"duogen\", \"dtype\": \"%s\", \"threads\": %d, \"prompt_tokens\": %lld, "
        "\"decode_tokens\": %lld, \"prefill_seconds\": %.3f, \"prefill_tok_s\": %.1f, "
        "\"decode_seconds\": %.3f, \"decode_tok_s\": %.2f}\n",
        dtype_name.c_str(), at::get_num_threads(), static_cast<long long>(prompt_tokens),
        static_cast<long long>(decode_tokens), prefill, prompt_tokens / prefill, decode,
        decode_tokens / decode);
    return 0;
  } catch (const duogen::Error& e) {
    std::cerr << "bench_mllm: " << e.what() << "\n";
    return 1;
  }
}
