// Plain-ATen gated activations: the CPU path, the test oracle, and the op's definition.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/gated_activation.h"

namespace duogen::reference {

at::Tensor gated_activation(const at::Tensor& gate, const at::Tensor& up,
                            ops::GateActivation activation,
                            ops::Rounding rounding = ops::Rounding::kOnce);

}  // namespace duogen::reference
