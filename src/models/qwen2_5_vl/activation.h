// The activation functions of transformers' ACT2FN (transformers 5.23 `activations.py`) that
// Qwen2.5-VL's MLPs (`text_config.hidden_act`, `vision_config.hidden_act`) may name, computed
// with the same ATen ops in the same order, so fp32 results match transformers to rounding.
//
// Not offered: "prelu" and "xielu", which carry learned parameters of their own that transformers
// creates (and initialises) inside each MLP; a config naming them is refused when it is parsed.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string_view>

namespace duogen::qwen2_5_vl {

enum class Activation {
  kSilu,          // "silu", "swish"
  kGelu,          // "gelu": exact erf GELU
  kGeluPython,    // "gelu_python": x * 0.5 * (1 + erf(x / sqrt 2)), written out
  kGeluTanh,      // "gelu_pytorch_tanh": ATen's tanh-approximate GELU
  kGeluNew,       // "gelu_new", "gelu_python_tanh", "gelu_accurate": the tanh formula written out
  kGeluFast,      // "gelu_fast"
  kGelu10,        // "gelu_10": GELU clipped to [-10, 10]
  kQuickGelu,     // "quick_gelu": x * sigmoid(1.702 x)
  kRelu,          // "relu"
  kRelu2,         // "relu2": relu(x)^2
  kRelu6,         // "relu6"
  kLeakyRelu,     // "leaky_relu": negative slope 0.01 (nn.LeakyReLU's default)
  kSigmoid,       // "sigmoid"
  kTanh,          // "tanh"
  kMish,          // "mish"
  kHardswish,     // "hardswish"
  kLaplace,       // "laplace": 0.5 (1 + erf((x - 0.707107) / (0.282095 sqrt 2)))
  kSqrtSoftplus,  // "sqrtsoftplus": sqrt(softplus(x))
  kLinear,        // "linear": identity
};

// The activation transformers' ACT2FN[name] computes, or nullopt for a name duogen does not
// offer (unknown to ACT2FN, or one with parameters of its own).
std::optional<Activation> activation_from_name(std::string_view name);

// Why `name` is refused, for config errors ("has learned parameters ...", "not in ACT2FN").
const char* activation_refusal(std::string_view name);

at::Tensor apply_activation(Activation activation, const at::Tensor& x);

// The gated MLP's `act_fn(gate) * up`, with transformers' two roundings in fp16/bf16. SiLU and the
// ATen GELUs run the fused kernel on CUDA (kernels/ops/gated_activation.h, Rounding::kPerOp); the
// other activations the unfused ops.
at::Tensor gated_mlp(Activation activation, const at::Tensor& gate, const at::Tensor& up);

}  // namespace duogen::qwen2_5_vl
