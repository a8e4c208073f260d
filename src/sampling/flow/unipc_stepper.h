// UniPC (Zhao et al. 2023) for flow matching, x0-prediction form, as Cosmos-Predict2.5's
// FlowUniPCMultistepScheduler and diffusers' UniPCMultistepScheduler(use_flow_sigmas,
// prediction_type="flow_prediction") run it (architecture.md §10.4). With alpha = 1 - sigma and
// lambda = log(alpha) - log(sigma), at step i:
//   m_i = x_i - sigma_i * v_i                         (x0-prediction)
//   corrector (i > 0): refines x_i from x_{i-1}, m_{i-1} (and m_{i-2}) and m_i (UniC, order of
//                      the previous predictor);
//   predictor:         x_{i+1} from x_i, m_i (and m_{i-1}) (UniP, order 1 at the first and, with
//                      lower_order_final, the last step; the last step returns m_i exactly).
#pragma once

#include "sampling/flow/stepper.h"

namespace duogen::sampling::flow {

class UniPcStepper final : public FlowStepper {
 public:
  // Throws InvalidArgument for an order other than 1 or 2.
  UniPcStepper(const FlowSchedule& schedule, UniPcOptions options);
  at::Tensor step(const at::Tensor& x, const at::Tensor& velocity) override;

  // The predictor order the last step() used (0 before the first step).
  int last_order() const { return this_order_; }

 private:
  double lambda(int i) const;
  double b_of_h(double hh) const;
  // UniC: the corrected x_i from last_sample_ = x_{i-1}, the history and m_i.
  at::Tensor correct(const at::Tensor& m_i) const;
  // UniP: x_{i+1} from x_i and the history (m_0 = m_i already pushed).
  at::Tensor predict(const at::Tensor& x, int order) const;

  UniPcOptions options_;
  at::Tensor m_prev_;       // m_{i-1} (after the push at step i: m_i)
  at::Tensor m_prev2_;      // m_{i-2} (after the push: m_{i-1})
  at::Tensor last_sample_;  // x_{i-1} after its correction
  int this_order_ = 0;      // the predictor order of the previous step
  int lower_order_nums_ = 0;
};

}  // namespace duogen::sampling::flow
