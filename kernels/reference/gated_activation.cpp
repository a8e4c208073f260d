#include "kernels/reference/gated_activation.h"

#include <ATen/ATen.h>

namespace duogen::reference {

at::Tensor gated_activation(const at::Tensor& gate, const at::Tensor& up,
                            ops::GateActivation activation, ops::Rounding rounding) {
  // kPerOp: the unfused expression in the input dtype, each ATen op rounding its own result.
  const bool per_op = rounding == ops::Rounding::kPerOp;
  const at::Tensor g = per_op ? gate : gate.to(at::kFloat);
  at::Tensor act;
  switch (activation) {
    case ops::GateActivation::kSilu: act = at::silu(g); break;
    case ops::GateActivation::kGeluErf: act = at::gelu(g, "none"); break;
    case ops::GateActivation::kGeluTanh: act = at::gelu(g, "tanh"); break;
  }
  if (per_op) return act * up;
  return (act * up.to(at::kFloat)).to(gate.scalar_type());
}

}  // namespace duogen::reference
