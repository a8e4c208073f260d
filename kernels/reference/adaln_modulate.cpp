#include "kernels/reference/adaln_modulate.h"

#include <ATen/ATen.h>

namespace duogen::reference {

at::Tensor adaln_modulate(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          ops::Rounding rounding) {
  const bool per_op = rounding == ops::Rounding::kPerOp;
  // [B, C] -> [B, 1, C]; then each of the G rows covers S / G consecutive tokens.
  const auto rows = [&](const at::Tensor& m) {
    const at::Tensor m3 = m.dim() == 2 ? m.unsqueeze(1) : m;
    return (per_op ? m3 : m3.to(at::kFloat)).repeat_interleave(x.size(1) / m3.size(1), 1);
  };
  // kPerOp: diffusers' `x * (1 + scale) + shift` in x's dtype, each op rounding its result.
  if (per_op) return x * (1 + rows(scale)) + rows(shift);
  return (x.to(at::kFloat) * (1 + rows(scale)) + rows(shift)).to(x.scalar_type());
}

}  // namespace duogen::reference
