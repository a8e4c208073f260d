#include "sampling/flow/stepper.h"

#include <utility>

#include "core/check.h"
#include "sampling/flow/euler_stepper.h"
#include "sampling/flow/unipc_stepper.h"

namespace duogen::sampling::flow {

FlowStepper::FlowStepper(FlowSchedule schedule) : schedule_(std::move(schedule)) {
  DUOGEN_CHECK(
      schedule_.num_evaluations() >= 1 && schedule_.sigmas.size() == schedule_.timesteps.size() + 1,
      InvalidArgument,
      "flow stepper: a schedule needs E >= 1 timesteps and E + 1 sigmas, got {} and {}",
      schedule_.timesteps.size(), schedule_.sigmas.size());
}

void FlowStepper::check_step(const at::Tensor& x, const at::Tensor& velocity) const {
  DUOGEN_CHECK(steps_taken_ < schedule_.num_evaluations(), InvalidArgument,
               "flow stepper: all {} steps of the schedule are done", schedule_.num_evaluations());
  DUOGEN_CHECK(x.defined() && velocity.defined(), InvalidArgument,
               "flow stepper: step {} got an undefined tensor", steps_taken_);
  DUOGEN_CHECK(x.sizes() == velocity.sizes(), InvalidArgument,
               "flow stepper: step {}: velocity shape {} differs from the state shape {}",
               steps_taken_, velocity.sizes().vec(), x.sizes().vec());
  DUOGEN_CHECK(x.scalar_type() == velocity.scalar_type() && x.device() == velocity.device(),
               InvalidArgument,
               "flow stepper: step {}: velocity ({}, {}) must have the state's dtype and device "
               "({}, {})",
               steps_taken_, c10::toString(velocity.scalar_type()), velocity.device().str(),
               c10::toString(x.scalar_type()), x.device().str());
}

std::unique_ptr<FlowStepper> make_stepper(SolverKind kind,
                                          const FlowSchedule& schedule,
                                          const UniPcOptions& unipc) {
  switch (kind) {
    case SolverKind::kEuler:
      return std::make_unique<EulerStepper>(schedule);
    case SolverKind::kUniPC:
      return std::make_unique<UniPcStepper>(schedule, unipc);
  }
  DUOGEN_FAIL(InvalidArgument, "flow stepper: unknown solver kind {}", static_cast<int>(kind));
}

}  // namespace duogen::sampling::flow
