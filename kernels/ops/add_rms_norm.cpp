#include "kernels/ops/add_rms_norm.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "kernels/reference/add_rms_norm.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/fused/fused_params.h"
#endif

namespace duogen::ops {
namespace {

#ifdef DUOGEN_WITH_CUDA
AddRmsNormResult add_rms_norm_cuda(const at::Tensor& x, const at::Tensor& residual_in,
                                   const at::Tensor& weight, double eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor xc = x.contiguous();
  const at::Tensor rc = residual_in.contiguous();
  const at::Tensor wc = weight.contiguous();
  AddRmsNormResult result{at::empty_like(xc), at::empty_like(xc)};
  kernels::AddRmsNormParams p{};
  p.out = result.out.data_ptr();
  p.residual_out = result.residual.data_ptr();
  p.x = xc.data_ptr();
  p.residual = rc.data_ptr();
  p.weight = wc.data_ptr();
  p.rows = xc.numel() / xc.size(-1);
  p.dim = xc.size(-1);
  p.eps = static_cast<float>(eps);
  p.dtype = x.scalar_type() == at::kFloat  ? kernels::KernelDType::kF32
            : x.scalar_type() == at::kHalf ? kernels::KernelDType::kF16
                                           : kernels::KernelDType::kBF16;
  const cudaError_t err = kernels::launch_add_rms_norm(p, at::cuda::getCurrentCUDAStream());
  DUOGEN_CHECK(err == cudaSuccess, Error, "add_rms_norm CUDA kernel failed: {}",
               cudaGetErrorString(err));
  return result;
}
#endif

}  // namespace

AddRmsNormResult add_rms_norm(const at::Tensor& x, const at::Tensor& residual_in,
                              const at::Tensor& weight, double eps) {
  DUOGEN_CHECK(x.dim() >= 1 && x.sizes() == residual_in.sizes(), InvalidArgument,
               "add_rms_norm: input {} and residual {} differ", x.sizes(), residual_in.sizes());
  DUOGEN_CHECK(x.scalar_type() == residual_in.scalar_type(), InvalidArgument,
               "add_rms_norm: input and residual have different dtypes");
  DUOGEN_CHECK(weight.dim() == 1 && x.size(-1) == weight.size(0), InvalidArgument,
               "add_rms_norm: input {} does not match weight {}", x.sizes(), weight.sizes());
  DUOGEN_CHECK(x.device() == residual_in.device() && x.device() == weight.device(),
               InvalidArgument, "add_rms_norm: input, residual and weight on different devices");
#ifdef DUOGEN_WITH_CUDA
  const auto t = x.scalar_type();
  if (x.is_cuda() && (t == at::kFloat || t == at::kHalf || t == at::kBFloat16) &&
      weight.scalar_type() == t && x.size(-1) > 0) {
    return add_rms_norm_cuda(x, residual_in, weight, eps);
  }
#endif
  return reference::add_rms_norm(x, residual_in, weight, eps);
}

}  // namespace duogen::ops
