#include "verify/compare.h"

#include <ATen/ATen.h>

namespace duogen::verify {

Comparison compare(const std::string& name, const at::Tensor& actual, const at::Tensor& expected,
                   double rtol) {
  Comparison c;
  c.name = name;
  c.shape = expected.sizes().vec();
  if (!actual.defined() || actual.sizes() != expected.sizes()) {
    c.shape_ok = false;
    c.max_abs_error = c.rel_error = std::numeric_limits<double>::infinity();
    return c;
  }
  const at::Tensor a = actual.to(at::kCPU, at::kDouble);
  const at::Tensor e = expected.to(at::kCPU, at::kDouble);
  const at::Tensor diff = a - e;
  c.max_abs_error = diff.numel() ? diff.abs().max().item<double>() : 0.0;
  const double norm_e = e.norm().item<double>();
  const double norm_d = diff.norm().item<double>();
  c.rel_error = norm_e > 0 ? norm_d / norm_e : c.max_abs_error;
  // NaN anywhere makes the metrics NaN, and NaN <= rtol is false: a NaN never passes.
  c.passed = c.rel_error <= rtol && !std::isnan(c.max_abs_error);
  // Integer outputs (token ids, positions) are exact or wrong: no tolerance applies.
  if (!at::isFloatingType(expected.scalar_type())) c.passed = c.max_abs_error == 0;
  return c;
}

}  // namespace duogen::verify
