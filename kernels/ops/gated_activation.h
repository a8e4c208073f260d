// Gated activations of the feed-forward blocks: out = act(gate) * up, computed in fp32 and
// rounded once to the input dtype (Rounding::kOnce), or rounded after the activation and after the
// product as transformers' `act_fn(gate_proj(x)) * up_proj(x)` is (Rounding::kPerOp). SwiGLU (Qwen2.5 MLP: silu(gate_proj x) * up_proj x) and the
// GELU gates (GEGLU, erf or tanh approximation).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/rounding.h"

namespace duogen::ops {

enum class GateActivation {
  kSilu,      // x * sigmoid(x)
  kGeluErf,   // 0.5 x (1 + erf(x / sqrt(2)))
  kGeluTanh,  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
};

// gate, up: same shape and dtype. fp32 / fp16 / bf16 CUDA tensors use the fused kernel,
// everything else reference::gated_activation.
at::Tensor gated_activation(const at::Tensor& gate, const at::Tensor& up,
                            GateActivation activation, Rounding rounding = Rounding::kOnce);

inline at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up,
                         Rounding rounding = Rounding::kOnce) {
  return gated_activation(gate, up, GateActivation::kSilu, rounding);
}

}  // namespace duogen::ops
