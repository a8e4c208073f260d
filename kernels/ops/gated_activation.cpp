#include "kernels/ops/gated_activation.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "kernels/reference/gated_activation.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/fused/fused_params.h"
#endif

namespace duogen::ops {
namespace {

#ifdef DUOGEN_WITH_CUDA
at::Tensor gated_activation_cuda(const at::Tensor& gate, const at::Tensor& up,
                                 GateActivation activation, Rounding rounding) {
  const c10::cuda::CUDAGuard guard(gate.device());
  const at::Tensor gc = gate.contiguous();
  const at::Tensor uc = up.contiguous();
  at::Tensor out = at::empty_like(gc);
  kernels::GatedActivationParams p{};
  p.out = out.data_ptr();
  p.gate = gc.data_ptr();
  p.up = uc.data_ptr();
  p.n = gc.numel();
  p.round_each_op = rounding == Rounding::kPerOp;
  p.activation = activation == GateActivation::kSilu      ? kernels::GateActivation::kSilu
                 : activation == GateActivation::kGeluErf ? kernels::GateActivation::kGeluErf
                                                          : kernels::GateActivation::kGeluTanh;
  p.dtype = gate.scalar_type() == at::kFloat  ? kernels::KernelDType::kF32
            : gate.scalar_type() == at::kHalf ? kernels::KernelDType::kF16
                                              : kernels::KernelDType::kBF16;
  const cudaError_t err = kernels::launch_gated_activation(p, at::cuda::getCurrentCUDAStream());
  DUOGEN_CHECK(err == cudaSuccess, Error, "gated_activation CUDA kernel failed: {}",
               cudaGetErrorString(err));
  return out;
}
#endif

}  // namespace

at::Tensor gated_activation(const at::Tensor& gate, const at::Tensor& up,
                            GateActivation activation, Rounding rounding) {
  DUOGEN_CHECK(gate.sizes() == up.sizes(), InvalidArgument,
               "gated_activation: gate {} and up {} differ", gate.sizes(), up.sizes());
  DUOGEN_CHECK(gate.scalar_type() == up.scalar_type(), InvalidArgument,
               "gated_activation: gate and up have different dtypes");
  DUOGEN_CHECK(gate.device() == up.device(), InvalidArgument,
               "gated_activation: gate and up on different devices");
#ifdef DUOGEN_WITH_CUDA
  const auto t = gate.scalar_type();
  if (gate.is_cuda() && (t == at::kFloat || t == at::kHalf || t == at::kBFloat16)) {
    return gated_activation_cuda(gate, up, activation, rounding);
  }
#endif
  return reference::gated_activation(gate, up, activation, rounding);
}

}  // namespace duogen::ops
