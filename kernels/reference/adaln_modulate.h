// Plain-ATen adaLN modulation: the CPU path, the test oracle, and the op's definition.
#pragma once

#include <ATen/core/Tensor.h>

namespace duogen::reference {

at::Tensor adaln_modulate(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift);

}  // namespace duogen::reference
