#include "kernels/reference/gated_activation.h"

#include <ATen/ATen.h>

namespace duogen::reference {

at::Tensor gated_activation(const at::Tensor& gate, const at::Tensor& up,
                            ops::GateActivation activation) {
  const at::Tensor g = gate.to(at::kFloat);
  at::Tensor act;
  switch (activation) {
    case ops::GateActivation::kSilu: act = at::silu(g); break;
    case ops::GateActivation::kGeluErf: act = at::gelu(g, "none"); break;
    case ops::GateActivation::kGeluTanh: act = at::gelu(g, "tanh"); break;
  }
  return (act * up.to(at::kFloat)).to(gate.scalar_type());
}

}  // namespace duogen::reference
