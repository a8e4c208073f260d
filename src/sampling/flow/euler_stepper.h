// First-order Euler over the flow velocity: the baseline solver (architecture.md §10.4).
#pragma once

#include "sampling/flow/stepper.h"

namespace duogen::sampling::flow {

class EulerStepper final : public FlowStepper {
 public:
  explicit EulerStepper(const FlowSchedule& schedule) : FlowStepper(schedule) {}
  at::Tensor step(const at::Tensor& x, const at::Tensor& velocity) override;
};

}  // namespace duogen::sampling::flow
