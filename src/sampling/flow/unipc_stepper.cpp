#include "sampling/flow/unipc_stepper.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/check.h"

namespace duogen::sampling::flow {

UniPcStepper::UniPcStepper(const FlowSchedule& schedule, UniPcOptions options)
    : FlowStepper(schedule), options_(std::move(options)) {
  DUOGEN_CHECK(options_.order == 1 || options_.order == 2, InvalidArgument,
               "UniPC: order must be 1 or 2, got {}", options_.order);
  // lambda = log((1 - sigma) / sigma) must be finite at every evaluated sigma.
  for (int i = 0; i < schedule_.num_evaluations(); ++i) {
    DUOGEN_CHECK(sigma(i) > 0.0 && sigma(i) < 1.0, InvalidArgument,
                 "UniPC: sigma[{}] = {} is outside (0, 1); lambda would be infinite", i, sigma(i));
  }
}

// lambda = log(alpha) - log(sigma); +inf at sigma = 0, which makes the last step return m_i.
double UniPcStepper::lambda(int i) const {
  const double s = sigma(i);
  return std::log(1.0 - s) - std::log(s);
}

double UniPcStepper::b_of_h(double hh) const {
  switch (options_.variant) {
    case UniPcVariant::kBh1:
      return hh;
    case UniPcVariant::kBh2:
      return std::expm1(hh);
  }
  return std::expm1(hh);
}

at::Tensor UniPcStepper::predict(const at::Tensor& x, int order) const {
  const int i = steps_taken_;
  const double sigma_t = sigma(i + 1);
  const double sigma_s0 = sigma(i);
  const double alpha_t = 1.0 - sigma_t;
  const double lambda_s0 = lambda(i);
  const double h = lambda(i + 1) - lambda_s0;
  const double hh = -h;  // predict_x0
  const double h_phi_1 = std::expm1(hh);
  const at::Tensor& m0 = m_prev_;
  at::Tensor x_t = x * (sigma_t / sigma_s0) - m0 * (alpha_t * h_phi_1);
  if (order == 2) {
    // rho_p is fixed at 0.5 for order 2 (the reference skips the linear solve there).
    const double rk = (lambda(i - 1) - lambda_s0) / h;
    const at::Tensor d1 = (m_prev2_ - m0) / rk;
    x_t = x_t - d1 * (alpha_t * b_of_h(hh) * 0.5);
  }
  return x_t;
}

at::Tensor UniPcStepper::correct(const at::Tensor& m_i) const {
  const int i = steps_taken_;
  const int order = this_order_;
  const double sigma_t = sigma(i);
  const double sigma_s0 = sigma(i - 1);
  const double alpha_t = 1.0 - sigma_t;
  const double lambda_s0 = lambda(i - 1);
  const double h = lambda(i) - lambda_s0;
  const double hh = -h;
  const double h_phi_1 = std::expm1(hh);
  const double b_h = b_of_h(hh);
  const at::Tensor& m0 = m_prev_;  // m_{i-1}
  at::Tensor x_t = last_sample_ * (sigma_t / sigma_s0) - m0 * (alpha_t * h_phi_1);
  const at::Tensor d1_t = m_i - m0;
  if (order == 1) {
    return x_t - d1_t * (alpha_t * b_h * 0.5);
  }
  // Order 2: rho solves [[1, 1], [rk, 1]] rho = b with b_k = h_phi_k * k! / B(h),
  // h_phi_1' = expm1(hh)/hh - 1 and h_phi_2' = h_phi_1'/hh - 1/2.
  const double rk = (lambda(i - 2) - lambda_s0) / h;
  const double phi_a = h_phi_1 / hh - 1.0;
  const double phi_b = phi_a / hh - 0.5;
  const double b1 = phi_a / b_h;
  const double b2 = phi_b * 2.0 / b_h;
  const double det = 1.0 - rk;
  DUOGEN_CHECK(det != 0.0 && std::isfinite(det), InvalidArgument,
               "UniPC: singular corrector system at step {} (repeated lambda in the schedule)", i);
  const double rho0 = (b1 - b2) / det;
  const double rho1 = b1 - rho0;
  const at::Tensor d1 = (m_prev2_ - m0) / rk;
  return x_t - (d1 * rho0 + d1_t * rho1) * (alpha_t * b_h);
}

at::Tensor UniPcStepper::step(const at::Tensor& x, const at::Tensor& velocity) {
  check_step(x, velocity);
  const int i = steps_taken_;
  const at::Tensor m_i = x - velocity * sigma(i);  // x0-prediction from the flow velocity
  at::Tensor sample = x;
  const bool corrector_disabled =
      std::find(options_.disable_corrector.begin(), options_.disable_corrector.end(), i - 1) !=
      options_.disable_corrector.end();
  if (i > 0 && !corrector_disabled && last_sample_.defined()) {
    sample = correct(m_i);
  }
  m_prev2_ = m_prev_;
  m_prev_ = m_i;
  int order = options_.order;
  if (options_.lower_order_final) {
    order = std::min(order, schedule_.num_evaluations() - i);
  }
  this_order_ = std::min(order, lower_order_nums_ + 1);  // warm-up of the multistep history
  last_sample_ = sample;
  at::Tensor next = predict(sample, this_order_);
  lower_order_nums_ = std::min(lower_order_nums_ + 1, options_.order);
  ++steps_taken_;
  return next;
}

}  // namespace duogen::sampling::flow
