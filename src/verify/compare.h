// Tensor comparison for parity checks.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace duogen::verify {

struct Comparison {
  std::string name;
  std::vector<std::int64_t> shape;
  double max_abs_error = 0;  // max |actual - expected|
  double rel_error = 0;      // ||actual - expected||_2 / ||expected||_2 (max_abs if ||expected|| = 0)
  bool shape_ok = true;
  bool passed = false;       // shape_ok && rel_error <= rtol (integer tensors: exactly equal)
};

// Compares in float64 so that the metric itself adds no error.
Comparison compare(const std::string& name, const at::Tensor& actual, const at::Tensor& expected,
                   double rtol);

}  // namespace duogen::verify
