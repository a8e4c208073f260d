#include "sampling/flow/guidance.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "core/check.h"

namespace duogen::sampling::flow {

void check_cfg(const CfgOptions& options) {
  DUOGEN_CHECK(std::isfinite(options.guidance) && options.guidance >= 0.0, InvalidArgument,
               "CFG: guidance must be a finite number >= 0, got {}", options.guidance);
}

bool cfg_needs_uncond(const CfgOptions& options) {
  switch (options.formula) {
    case CfgFormula::kCosmos:
      return options.guidance != 0.0;
    case CfgFormula::kStandard:
      return options.guidance != 1.0;
  }
  return true;
}

at::Tensor cfg_combine(const at::Tensor& v_cond,
                       const at::Tensor& v_uncond,
                       const CfgOptions& options) {
  check_cfg(options);
  DUOGEN_CHECK(v_cond.defined() && v_uncond.defined(), InvalidArgument,
               "CFG: both branch velocities must be defined");
  DUOGEN_CHECK(v_cond.sizes() == v_uncond.sizes(), InvalidArgument,
               "CFG: conditional velocity shape {} differs from the unconditional {}",
               v_cond.sizes().vec(), v_uncond.sizes().vec());
  DUOGEN_CHECK(v_cond.scalar_type() == v_uncond.scalar_type(), InvalidArgument,
               "CFG: conditional velocity dtype {} differs from the unconditional {}",
               c10::toString(v_cond.scalar_type()), c10::toString(v_uncond.scalar_type()));
  const at::Tensor diff = v_cond - v_uncond;
  switch (options.formula) {
    case CfgFormula::kCosmos:
      return v_cond + diff * options.guidance;
    case CfgFormula::kStandard:
      return v_uncond + diff * options.guidance;
  }
  DUOGEN_FAIL(InvalidArgument, "CFG: unknown formula {}", static_cast<int>(options.formula));
}

VelocityFn make_cfg_velocity(VelocityFn cond, VelocityFn uncond, const CfgOptions& options) {
  check_cfg(options);
  DUOGEN_CHECK(static_cast<bool>(cond), InvalidArgument,
               "CFG: the conditional velocity function is empty");
  const bool needs_uncond = cfg_needs_uncond(options);
  DUOGEN_CHECK(!needs_uncond || static_cast<bool>(uncond), InvalidArgument,
               "CFG: guidance {} needs an unconditional velocity function", options.guidance);
  if (!needs_uncond) return cond;
  return [cond = std::move(cond), uncond = std::move(uncond), options](const at::Tensor& x,
                                                                       const StepContext& step) {
    const at::Tensor v_cond = cond(x, step);
    const at::Tensor v_uncond = uncond(x, step);
    return cfg_combine(v_cond, v_uncond, options);
  };
}

}  // namespace duogen::sampling::flow
