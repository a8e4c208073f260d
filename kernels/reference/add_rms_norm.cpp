#include "kernels/reference/add_rms_norm.h"

#include <ATen/ATen.h>

#include "kernels/reference/rms_norm.h"

namespace duogen::reference {

ops::AddRmsNormResult add_rms_norm(const at::Tensor& x, const at::Tensor& residual_in,
                                   const at::Tensor& weight, double eps) {
  // The sum is computed in fp32 and rounded once (what ATen's low-precision add does).
  const at::Tensor residual = (x.to(at::kFloat) + residual_in.to(at::kFloat)).to(x.scalar_type());
  return {reference::rms_norm(residual, weight, eps), residual};
}

}  // namespace duogen::reference
