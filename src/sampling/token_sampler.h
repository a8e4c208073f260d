// Next-token selection for the MLLM: logits processing and sampling as transformers 5.23
// `generate` does it (generation/utils.py `_get_logits_processor`, generation/logits_process.py).
//
// Processing order (transformers' list order): per-token logit bias (SequenceBiasLogitsProcessor
// with single-token sequences), repetition penalty, temperature, top-k, top-p, min-p. Then greedy
// argmax (do_sample = false) or one draw from softmax with the sampler's generator.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace duogen::sampling {

struct SamplingOptions {
  bool do_sample = false;           // false: greedy (the processors that cannot change the argmax
                                    // are skipped, as transformers does for greedy search)
  double temperature = 1.0;         // > 0
  std::int64_t top_k = 0;           // 0: off
  double top_p = 1.0;               // in (0, 1]; 1: off
  double min_p = 0.0;               // in [0, 1]; 0: off
  double repetition_penalty = 1.0;  // > 0; 1: off. Applies to every id of the context
  std::map<std::int64_t, double> logit_bias;  // token id -> added to its logit
  std::optional<std::uint64_t> seed;          // sampling seed; none: a fresh random seed
};

// Throws InvalidArgument naming the option that is out of range.
void validate(const SamplingOptions& options);

// The processing steps, each as the transformers class of the same purpose; logits are fp32
// [V] or [B, V], context ids int64 (the tokens seen so far). They return new tensors.
at::Tensor apply_logit_bias(const at::Tensor& logits, const std::map<std::int64_t, double>& bias);
at::Tensor apply_repetition_penalty(const at::Tensor& logits,
                                    const at::Tensor& context,
                                    double penalty);
at::Tensor apply_temperature(const at::Tensor& logits, double temperature);
at::Tensor apply_top_k(const at::Tensor& logits, std::int64_t top_k);
at::Tensor apply_top_p(const at::Tensor& logits, double top_p);
at::Tensor apply_min_p(const at::Tensor& logits, double min_p);

class TokenSampler {
 public:
  explicit TokenSampler(SamplingOptions options);

  // Every enabled step, in transformers' order (greedy: logit bias and repetition penalty only).
  at::Tensor process(const at::Tensor& logits, const std::vector<std::int64_t>& context) const;
  // The next token for logits [V] or [1, V] after `context`. CUDA logits go through
  // select_on_device (one host sync: reading the id); CPU logits through the CPU chain.
  std::int64_t sample(const at::Tensor& logits, const std::vector<std::int64_t>& context);

  // The same choice made on the logits' device, returned there as a 0-dim int64 tensor without a
  // host sync or a copy of the logits: the logit bias as one precomputed vector, the repetition
  // penalty from a device mask of the context's ids (updated by the ids appended since the last
  // call, rebuilt when the context changed otherwise), the warpers as on the CPU, and the draw by
  // torch's own multinomial method for one sample -- argmax(p / q), q ~ Exp(1) -- with q drawn from
  // this sampler's CPU generator and copied asynchronously. On CPU tensors it is exactly sample()'s
  // chain (tested); on a GPU the choices equal the CPU's wherever the device's softmax, sort and
  // cumsum round as the CPU's do, i.e. except for near-ties in the filtered distribution.
  at::Tensor select_on_device(const at::Tensor& logits, const std::vector<std::int64_t>& context);

  const SamplingOptions& options() const { return options_; }

 private:
  at::Tensor seen_mask(std::int64_t vocab, const at::TensorOptions& device,
                       const std::vector<std::int64_t>& context);

  SamplingOptions options_;
  at::Generator generator_;
  // select_on_device's state: the bias vector and the seen-ids mask on the device, and the context
  // the mask was built from.
  at::Tensor bias_, seen_;
  std::vector<std::int64_t> seen_context_;
};

}  // namespace duogen::sampling
