// Plain-ATen rotate-half rotary embedding: the CPU path, the test oracle, the op's definition.
#pragma once

#include <ATen/core/Tensor.h>

namespace duogen::reference {

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace duogen::reference
