// Residual add fused with RMSNorm (the pre-norm decoder layer's "h = residual + h; x = norm(h)"):
//   residual = x + residual_in          (rounded to the input dtype: it is the new residual stream)
//   out      = rms_norm(residual, weight, eps)   (exactly ops::rms_norm's semantics)
#pragma once

#include <ATen/core/Tensor.h>

namespace duogen::ops {

struct AddRmsNormResult {
  at::Tensor out;       // normalised, same shape as x
  at::Tensor residual;  // x + residual_in, same shape and dtype as x
};

// x, residual_in: [..., D] of one dtype; weight [D]. fp32 / fp16 / bf16 CUDA tensors with a
// weight of the same dtype use the fused kernel, everything else reference::add_rms_norm.
AddRmsNormResult add_rms_norm(const at::Tensor& x, const at::Tensor& residual_in,
                              const at::Tensor& weight, double eps);

}  // namespace duogen::ops
