#include "models/qwen2_5_vl/activation.h"

#include <ATen/ATen.h>

#include <cmath>
#include <numbers>
#include <utility>

#include "kernels/ops/gated_activation.h"

namespace duogen::qwen2_5_vl {
namespace {

constexpr std::pair<std::string_view, Activation> kNames[] = {
    {"silu", Activation::kSilu},
    {"swish", Activation::kSilu},
    {"gelu", Activation::kGelu},
    {"gelu_python", Activation::kGeluPython},
    {"gelu_pytorch_tanh", Activation::kGeluTanh},
    {"gelu_new", Activation::kGeluNew},
    {"gelu_python_tanh", Activation::kGeluNew},
    {"gelu_accurate", Activation::kGeluNew},
    {"gelu_fast", Activation::kGeluFast},
    {"gelu_10", Activation::kGelu10},
    {"quick_gelu", Activation::kQuickGelu},
    {"relu", Activation::kRelu},
    {"relu2", Activation::kRelu2},
    {"relu6", Activation::kRelu6},
    {"leaky_relu", Activation::kLeakyRelu},
    {"sigmoid", Activation::kSigmoid},
    {"tanh", Activation::kTanh},
    {"mish", Activation::kMish},
    {"hardswish", Activation::kHardswish},
    {"laplace", Activation::kLaplace},
    {"sqrtsoftplus", Activation::kSqrtSoftplus},
    {"linear", Activation::kLinear},
};

// NewGELUActivation / GELUTanh(use_gelu_tanh_python) / AccurateGELUActivation:
// 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
at::Tensor gelu_tanh_formula(const at::Tensor& x) {
  const double c = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + at::tanh(c * (x + 0.044715 * at::pow(x, 3.0))));
}

}  // namespace

std::optional<Activation> activation_from_name(std::string_view name) {
  for (const auto& [n, a] : kNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

const char* activation_refusal(std::string_view name) {
  if (name == "prelu" || name == "xielu") {
    return "this activation has learned parameters of its own, which transformers creates inside "
           "each MLP and Qwen2.5-VL checkpoints do not hold";
  }
  return "not an activation of transformers' ACT2FN that duogen implements (silu, swish, gelu, "
         "gelu_python, gelu_pytorch_tanh, gelu_new, gelu_python_tanh, gelu_accurate, gelu_fast, "
         "gelu_10, quick_gelu, relu, relu2, relu6, leaky_relu, sigmoid, tanh, mish, hardswish, "
         "laplace, sqrtsoftplus, linear)";
}

at::Tensor gated_mlp(Activation activation, const at::Tensor& gate, const at::Tensor& up) {
  const auto fused = [&](ops::GateActivation a) {
    return ops::gated_activation(gate, up, a, ops::Rounding::kPerOp);
  };
  switch (activation) {
    case Activation::kSilu:
      return fused(ops::GateActivation::kSilu);
    case Activation::kGelu:
      return fused(ops::GateActivation::kGeluErf);
    case Activation::kGeluTanh:
      return fused(ops::GateActivation::kGeluTanh);
    default:
      return apply_activation(activation, gate) * up;
  }
}

at::Tensor apply_activation(Activation activation, const at::Tensor& x) {
  switch (activation) {
    case Activation::kSilu:
      return at::silu(x);
    case Activation::kGelu:
      return at::gelu(x);
    case Activation::kGeluPython:
      return x * 0.5 * (1.0 + at::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh:
      return at::gelu(x, "tanh");
    case Activation::kGeluNew:
      return gelu_tanh_formula(x);
    case Activation::kGeluFast:
      return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
    case Activation::kGelu10:
      return at::clamp(at::gelu(x), -10.0, 10.0);
    case Activation::kQuickGelu:
      return x * at::sigmoid(1.702 * x);
    case Activation::kRelu:
      return at::relu(x);
    case Activation::kRelu2:
      return at::square(at::relu(x));
    case Activation::kRelu6:
      return at::hardtanh(x, 0.0, 6.0);
    case Activation::kLeakyRelu:
      return at::leaky_relu(x, 0.01);
    case Activation::kSigmoid:
      return at::sigmoid(x);
    case Activation::kTanh:
      return at::tanh(x);
    case Activation::kMish:
      return at::mish(x);
    case Activation::kHardswish:
      return at::hardswish(x);
    case Activation::kLaplace:
      return 0.5 * (1.0 + at::erf((x - 0.707107) / (0.282095 * std::sqrt(2.0))));
    case Activation::kSqrtSoftplus:
      return at::sqrt(at::softplus(x));
    case Activation::kLinear:
      return x;
  }
  return x;
}

}  // namespace duogen::qwen2_5_vl
