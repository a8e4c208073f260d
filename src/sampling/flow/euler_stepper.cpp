#include "sampling/flow/euler_stepper.h"

#include <ATen/ATen.h>

namespace duogen::sampling::flow {

at::Tensor EulerStepper::step(const at::Tensor& x, const at::Tensor& velocity) {
  check_step(x, velocity);
  const int i = steps_taken_;
  // The difference of two float32 values is exact in float64, so for a float32 state the single
  // rounding of dt to float32 equals the reference's float32 subtraction.
  const double dt = sigma(i + 1) - sigma(i);
  at::Tensor next = x + velocity * dt;  // two ops, as diffusers: no fused x + dt*v
  ++steps_taken_;
  return next;
}

}  // namespace duogen::sampling::flow
