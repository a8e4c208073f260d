#include "sampling/token_sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <limits>
#include <random>

#include "core/check.h"

namespace duogen::sampling {
namespace {

constexpr double kFilterValue = -std::numeric_limits<double>::infinity();
// transformers keeps min_tokens_to_keep = 1 token in every filter (2 only for beam search).
constexpr std::int64_t kMinTokensToKeep = 1;

}  // namespace

void validate(const SamplingOptions& o) {
  DUOGEN_CHECK(o.temperature > 0, InvalidArgument, "sampling: temperature must be > 0, got {}",
               o.temperature);
  DUOGEN_CHECK(o.top_k >= 0, InvalidArgument, "sampling: top_k must be >= 0, got {}", o.top_k);
  DUOGEN_CHECK(o.top_p > 0 && o.top_p <= 1, InvalidArgument,
               "sampling: top_p must be in (0, 1], got {}", o.top_p);
  DUOGEN_CHECK(o.min_p >= 0 && o.min_p <= 1, InvalidArgument,
               "sampling: min_p must be in [0, 1], got {}", o.min_p);
  DUOGEN_CHECK(o.repetition_penalty > 0, InvalidArgument,
               "sampling: repetition_penalty must be > 0, got {}", o.repetition_penalty);
}

at::Tensor apply_logit_bias(const at::Tensor& logits, const std::map<std::int64_t, double>& bias) {
  if (bias.empty()) return logits;
  at::Tensor out = logits.clone();
  const std::int64_t vocab = logits.size(-1);
  for (const auto& [id, b] : bias) {
    DUOGEN_CHECK(id >= 0 && id < vocab, InvalidArgument,
                 "sampling: logit bias for token {} outside the vocabulary [0, {})", id, vocab);
    out.select(-1, id).add_(b);
  }
  return out;
}

at::Tensor apply_repetition_penalty(const at::Tensor& logits,
                                    const at::Tensor& context,
                                    double penalty) {
  if (penalty == 1.0 || context.numel() == 0) return logits;
  // Each distinct context id once: negative logits are multiplied, positive ones divided.
  const at::Tensor ids = std::get<0>(at::_unique(context.reshape({-1}).to(logits.device())));
  const at::Tensor picked = logits.index_select(-1, ids);
  const at::Tensor penalised = at::where(picked < 0, picked * penalty, picked / penalty);
  at::Tensor out = logits.clone();
  out.index_copy_(-1, ids, penalised);
  return out;
}

at::Tensor apply_temperature(const at::Tensor& logits, double temperature) {
  return temperature == 1.0 ? logits : logits / temperature;
}

at::Tensor apply_top_k(const at::Tensor& logits, std::int64_t top_k) {
  if (top_k <= 0) return logits;
  const std::int64_t k = std::min(std::max(top_k, kMinTokensToKeep), logits.size(-1));
  // Everything below the k-th largest goes (ties with it stay).
  const at::Tensor kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);
  return logits.masked_fill(logits < kth, kFilterValue);
}

at::Tensor apply_top_p(const at::Tensor& logits, double top_p) {
  if (top_p >= 1.0) return logits;
  // Ascending sort; drop the low tail whose cumulative probability is <= 1 - top_p.
  const auto [sorted, indices] = logits.sort(-1, /*descending=*/false);
  const at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
  at::Tensor remove_sorted = cumulative <= (1.0 - top_p);
  const std::int64_t v = logits.size(-1);
  remove_sorted.narrow(-1, v - std::min(kMinTokensToKeep, v), std::min(kMinTokensToKeep, v))
      .fill_(false);
  const at::Tensor remove = remove_sorted.scatter(-1, indices, remove_sorted);
  return logits.masked_fill(remove, kFilterValue);
}

at::Tensor apply_min_p(const at::Tensor& logits, double min_p) {
  if (min_p <= 0.0) return logits;
  const at::Tensor probs = logits.softmax(-1);
  const at::Tensor threshold = probs.amax(-1, /*keepdim=*/true) * min_p;
  at::Tensor remove = probs < threshold;
  const std::int64_t k = std::min(kMinTokensToKeep, probs.size(-1));
  remove.scatter_(-1, std::get<1>(probs.topk(k, -1)), false);
  return logits.masked_fill(remove, kFilterValue);
}

TokenSampler::TokenSampler(SamplingOptions options) : options_(std::move(options)) {
  validate(options_);
  const std::uint64_t seed = options_.seed ? *options_.seed : std::random_device{}();
  generator_ = at::make_generator<at::CPUGeneratorImpl>(seed);
}

at::Tensor TokenSampler::process(const at::Tensor& logits,
                                 const std::vector<std::int64_t>& context) const {
  at::Tensor x = logits.to(at::kFloat);
  x = apply_logit_bias(x, options_.logit_bias);
  x = apply_repetition_penalty(x, at::tensor(context, at::kLong), options_.repetition_penalty);
  if (!options_.do_sample) return x;
  x = apply_temperature(x, options_.temperature);
  x = apply_top_k(x, options_.top_k);
  x = apply_top_p(x, options_.top_p);
  x = apply_min_p(x, options_.min_p);
  return x;
}

std::int64_t TokenSampler::sample(const at::Tensor& logits,
                                  const std::vector<std::int64_t>& context) {
  DUOGEN_CHECK(logits.dim() == 1 || (logits.dim() == 2 && logits.size(0) == 1), InvalidArgument,
               "sampling: logits must be [V] or [1, V], got {}", logits.sizes());
  if (logits.is_cuda()) return select_on_device(logits, context).item<std::int64_t>();
  const at::Tensor scores = process(logits.reshape({-1}).to(at::kCPU), context);
  if (!options_.do_sample) return scores.argmax().item<std::int64_t>();
  const at::Tensor probs = scores.softmax(-1);
  return at::multinomial(probs, 1, /*replacement=*/false, generator_).item<std::int64_t>();
}

at::Tensor TokenSampler::seen_mask(std::int64_t vocab, const at::TensorOptions& device,
                                     const std::vector<std::int64_t>& context) {
  const bool appended = seen_.defined() && seen_.size(0) == vocab &&
                        seen_.device() == device.device() &&
                        seen_context_.size() <= context.size() &&
                        std::equal(seen_context_.begin(), seen_context_.end(), context.begin());
  if (!appended) {
    seen_ = at::zeros({vocab}, device.dtype(at::kBool));
    seen_context_.clear();
  }
  if (context.size() > seen_context_.size()) {
    const std::vector<std::int64_t> fresh(context.begin() + static_cast<std::ptrdiff_t>(
                                                                seen_context_.size()),
                                          context.end());
    for (const std::int64_t id : fresh) {
      DUOGEN_CHECK(id >= 0 && id < vocab, InvalidArgument,
                   "sampling: context token {} outside the vocabulary [0, {})", id, vocab);
    }
    seen_.index_fill_(0, at::tensor(fresh, at::kLong).to(seen_.device(), /*non_blocking=*/true),
                      true);
    seen_context_ = context;
  }
  return seen_;
}

at::Tensor TokenSampler::select_on_device(const at::Tensor& logits,
                                          const std::vector<std::int64_t>& context) {
  DUOGEN_CHECK(logits.dim() == 1 || (logits.dim() == 2 && logits.size(0) == 1), InvalidArgument,
               "sampling: logits must be [V] or [1, V], got {}", logits.sizes());
  at::Tensor x = logits.reshape({-1}).to(at::kFloat);
  const std::int64_t vocab = x.size(0);
  if (!options_.logit_bias.empty()) {
    if (!bias_.defined() || bias_.size(0) != vocab || bias_.device() != x.device()) {
      // Zeros elsewhere: x + 0 is x, and x + b is what the CPU chain's per-id add_ computes.
      at::Tensor bias = at::zeros({vocab}, at::kFloat);
      for (const auto& [id, b] : options_.logit_bias) {
        DUOGEN_CHECK(id >= 0 && id < vocab, InvalidArgument,
                     "sampling: logit bias for token {} outside the vocabulary [0, {})", id,
                     vocab);
        bias[id] += b;
      }
      bias_ = bias.to(x.device());
    }
    x = x + bias_;
  }
  if (options_.repetition_penalty != 1.0 && !context.empty()) {
    const double p = options_.repetition_penalty;
    const at::Tensor seen = seen_mask(vocab, x.options(), context);
    x = at::where(seen, at::where(x < 0, x * p, x / p), x);
  }
  if (!options_.do_sample) return x.argmax();
  x = apply_temperature(x, options_.temperature);
  x = apply_top_k(x, options_.top_k);
  x = apply_top_p(x, options_.top_p);
  x = apply_min_p(x, options_.min_p);
  const at::Tensor probs = x.softmax(-1);
  // torch.multinomial(probs, 1)'s own method: argmax(probs / q), q ~ Exp(1) from the generator.
  at::Tensor q = at::empty({vocab}, at::TensorOptions().dtype(at::kFloat));
  q.exponential_(1, generator_);
  if (x.is_cuda()) q = q.pin_memory().to(x.device(), /*non_blocking=*/true);
  return (probs / q).argmax();
}

}  // namespace duogen::sampling
