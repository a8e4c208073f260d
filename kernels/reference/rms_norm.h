// Plain-ATen RMSNorm: the CPU path, the test oracle, and the definition of the op.
#pragma once

#include <ATen/core/Tensor.h>

namespace duogen::reference {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace duogen::reference
