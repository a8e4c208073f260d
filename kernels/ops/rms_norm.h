// RMSNorm as Hugging Face Qwen2 / Cosmos compute it:
//   y = weight * cast_to(x.dtype)( x_f32 * rsqrt(mean(x_f32^2, last dim) + eps) )
// The normalisation runs in fp32 and is rounded to the input dtype *before* the weight multiply
// (architecture.md §5.2); the result has the promoted dtype of x and weight.
#pragma once

#include <ATen/core/Tensor.h>

namespace duogen::ops {

// x: [..., D], weight: [D]. CUDA tensors use the fused kernel when compiled in; everything else
// uses reference::rms_norm. Throws InvalidArgument on mismatched shapes/devices.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace duogen::ops
