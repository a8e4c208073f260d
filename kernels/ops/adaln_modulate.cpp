#include "kernels/ops/adaln_modulate.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "kernels/reference/adaln_modulate.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/fused/fused_params.h"
#endif

namespace duogen::ops {
namespace {

#ifdef DUOGEN_WITH_CUDA
at::Tensor adaln_modulate_cuda(const at::Tensor& x, const at::Tensor& scale,
                               const at::Tensor& shift, Rounding rounding) {
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor xc = x.contiguous();
  const at::Tensor sc = scale.contiguous();
  const at::Tensor hc = shift.contiguous();
  at::Tensor out = at::empty_like(xc);
  kernels::AdaLnModulateParams p{};
  p.out = out.data_ptr();
  p.x = xc.data_ptr();
  p.scale = sc.data_ptr();
  p.shift = hc.data_ptr();
  p.batch = xc.size(0);
  p.tokens = xc.size(1);
  p.channels = xc.size(2);
  p.mod_rows = scale.dim() == 2 ? 1 : scale.size(1);
  p.round_each_op = rounding == Rounding::kPerOp;
  p.dtype = x.scalar_type() == at::kFloat  ? kernels::KernelDType::kF32
            : x.scalar_type() == at::kHalf ? kernels::KernelDType::kF16
                                           : kernels::KernelDType::kBF16;
  const cudaError_t err = kernels::launch_adaln_modulate(p, at::cuda::getCurrentCUDAStream());
  DUOGEN_CHECK(err == cudaSuccess, Error, "adaln_modulate CUDA kernel failed: {}",
               cudaGetErrorString(err));
  return out;
}
#endif

}  // namespace

at::Tensor adaln_modulate(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          Rounding rounding) {
  DUOGEN_CHECK(x.dim() == 3, InvalidArgument, "adaln_modulate: expected x [B, S, C], got {}",
               x.sizes());
  DUOGEN_CHECK(scale.sizes() == shift.sizes(), InvalidArgument,
               "adaln_modulate: scale {} and shift {} differ", scale.sizes(), shift.sizes());
  const bool per_sample =
      scale.dim() == 2 && scale.size(0) == x.size(0) && scale.size(1) == x.size(2);
  const bool per_group = scale.dim() == 3 && scale.size(0) == x.size(0) &&
                         scale.size(2) == x.size(2) && scale.size(1) > 0 &&
                         x.size(1) % scale.size(1) == 0;
  DUOGEN_CHECK(per_sample || per_group, InvalidArgument,
               "adaln_modulate: modulation {} fits neither [B, C] nor [B, G, C] (S % G == 0) for "
               "x {}",
               scale.sizes(), x.sizes());
  DUOGEN_CHECK(x.scalar_type() == scale.scalar_type() && x.scalar_type() == shift.scalar_type(),
               InvalidArgument, "adaln_modulate: x, scale and shift have different dtypes");
  DUOGEN_CHECK(x.device() == scale.device() && x.device() == shift.device(), InvalidArgument,
               "adaln_modulate: x, scale and shift on different devices");
#ifdef DUOGEN_WITH_CUDA
  const auto t = x.scalar_type();
  if (x.is_cuda() && (t == at::kFloat || t == at::kHalf || t == at::kBFloat16)) {
    return adaln_modulate_cuda(x, scale, shift, rounding);
  }
#endif
  return reference::adaln_modulate(x, scale, shift, rounding);
}

}  // namespace duogen::ops
