#include "kernels/reference/rotary.h"

#include <ATen/ATen.h>

namespace duogen::reference {

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const at::Tensor xf = x.to(at::kFloat);
  const auto halves = xf.chunk(2, -1);
  const at::Tensor rotated = at::cat({-halves[1], halves[0]}, -1);
  // [S, D] or [B, S, D] -> broadcast over the heads axis of [B, S, H, D].
  const auto table = [](const at::Tensor& t) {
    const at::Tensor f = t.to(at::kFloat);
    return (f.dim() == 2 ? f.unsqueeze(0) : f).unsqueeze(2);
  };
  return (xf * table(cos) + rotated * table(sin)).to(x.scalar_type());
}

}  // namespace duogen::reference
