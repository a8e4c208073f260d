#include "kernels/reference/rms_norm.h"

#include <ATen/ATen.h>

namespace duogen::reference {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  // fp32 statistics whatever the input dtype, then round to the input dtype before scaling.
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  const at::Tensor normed = (xf * at::rsqrt(variance + eps)).to(x.scalar_type());
  return weight * normed;
}

}  // namespace duogen::reference
