// Plain-ATen adaLN modulation: the CPU path, the test oracle, and the op's definition.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/rounding.h"

namespace duogen::reference {

at::Tensor adaln_modulate(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          ops::Rounding rounding = ops::Rounding::kOnce);

}  // namespace duogen::reference
