#include "kernels/ops/rms_norm.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "kernels/reference/rms_norm.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/norm/rms_norm.cuh"
#endif

namespace duogen::ops {
namespace {

#ifdef DUOGEN_WITH_CUDA
bool kernel_supports(const at::Tensor& x, const at::Tensor& weight) {
  const auto t = x.scalar_type();
  const bool float_type = t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
  return x.is_cuda() && float_type && weight.scalar_type() == t && x.size(-1) > 0;
}

at::Tensor rms_norm_cuda(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor xc = x.contiguous();
  const at::Tensor wc = weight.contiguous();
  at::Tensor out = at::empty_like(xc);
  kernels::RmsNormParams p{};
  p.out = out.data_ptr();
  p.x = xc.data_ptr();
  p.weight = wc.data_ptr();
  p.rows = xc.numel() / xc.size(-1);
  p.dim = xc.size(-1);
  p.eps = static_cast<float>(eps);
  p.dtype = x.scalar_type() == at::kFloat  ? kernels::KernelDType::kF32
            : x.scalar_type() == at::kHalf ? kernels::KernelDType::kF16
                                           : kernels::KernelDType::kBF16;
  const cudaError_t err = kernels::launch_rms_norm(p, at::cuda::getCurrentCUDAStream());
  DUOGEN_CHECK(err == cudaSuccess, Error, "rms_norm CUDA kernel failed: {}",
               cudaGetErrorString(err));
  return out;
}
#endif

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  DUOGEN_CHECK(x.dim() >= 1 && weight.dim() == 1 && x.size(-1) == weight.size(0), InvalidArgument,
               "rms_norm: input {} does not match weight {}", x.sizes(), weight.sizes());
  DUOGEN_CHECK(x.device() == weight.device(), InvalidArgument,
               "rms_norm: input on {} but weight on {}", x.device().str(), weight.device().str());
#ifdef DUOGEN_WITH_CUDA
  if (kernel_supports(x, weight)) return rms_norm_cuda(x, weight, eps);
#endif
  return reference::rms_norm(x, weight, eps);
}

}  // namespace duogen::ops
