// Solvers of the rectified-flow ODE dx/dsigma = v (architecture.md §10.1, §10.4): a stepper
// advances the state from sigmas[i] to sigmas[i+1] given the (guided) velocity at sigmas[i]. The
// multistep UniPC keeps history, so a stepper serves exactly one run over one schedule.
//
// Precision: the state keeps the dtype of the tensors passed in (float32 as the reference, or
// float64); the scalar coefficients are computed in float64 from the schedule's float32 sigmas.
// The reference computes them in float32 (0-d float32 tensors), which moves an fp32 run by
// ~1e-7 relative (measured in tools/reference/dump_flow_sampler.py goldens).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "sampling/flow/schedule.h"

namespace duogen::sampling::flow {

enum class SolverKind {
  kEuler,  // x_{i+1} = x_i + (sigma_{i+1} - sigma_i) * v_i (diffusers FlowMatchEulerDiscrete)
  kUniPC,  // UniPC multistep predictor-corrector on x0-predictions (Cosmos / diffusers)
};

enum class UniPcVariant {
  kBh1,  // B(h) = h
  kBh2,  // B(h) = expm1(h) (Cosmos and diffusers default)
};

struct UniPcOptions {
  int order = 2;  // solver_order: 1 or 2 (the reference uses 2)
  UniPcVariant variant = UniPcVariant::kBh2;
  // The predictor order drops to what the remaining steps allow (1 at the last step).
  bool lower_order_final = true;
  // Step indices i whose corrector (applied at step i+1) is skipped; empty in the reference.
  std::vector<int> disable_corrector;
};

class FlowStepper {
 public:
  virtual ~FlowStepper() = default;
  // x: the state at sigmas[i] where i = steps_taken(); velocity: the model's (CFG-combined)
  // velocity at x, same shape and dtype as x. Returns the state at sigmas[i+1]. Throws
  // InvalidArgument on a shape/dtype mismatch or when the schedule is exhausted.
  virtual at::Tensor step(const at::Tensor& x, const at::Tensor& velocity) = 0;
  int steps_taken() const { return steps_taken_; }
  const FlowSchedule& schedule() const { return schedule_; }

 protected:
  explicit FlowStepper(FlowSchedule schedule);
  // Checks the inputs of step() and that a step is left.
  void check_step(const at::Tensor& x, const at::Tensor& velocity) const;
  // sigma_i as the solver uses it: the float32 table value, widened.
  double sigma(int i) const {
    return static_cast<double>(schedule_.sigmas.at(static_cast<std::size_t>(i)));
  }

  FlowSchedule schedule_;
  int steps_taken_ = 0;
};

std::unique_ptr<FlowStepper> make_stepper(SolverKind kind,
                                          const FlowSchedule& schedule,
                                          const UniPcOptions& unipc = {});

}  // namespace duogen::sampling::flow
