// Plain-ATen residual add + RMSNorm: the CPU path, the test oracle, and the op's definition.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/add_rms_norm.h"

namespace duogen::reference {

ops::AddRmsNormResult add_rms_norm(const at::Tensor& x, const at::Tensor& residual_in,
                                   const at::Tensor& weight, double eps);

}  // namespace duogen::reference
