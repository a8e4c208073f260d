#include "kernels/ops/rotary.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "kernels/reference/rotary.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/fused/fused_params.h"
#endif

namespace duogen::ops {
namespace {

#ifdef DUOGEN_WITH_CUDA
at::Tensor apply_rotary_cuda(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor xc = x.contiguous();
  // The tables are small ([S, D]); fp32 keeps the kernel's math identical to the reference.
  const at::Tensor cc = cos.to(at::kFloat).contiguous();
  const at::Tensor sc = sin.to(at::kFloat).contiguous();
  at::Tensor out = at::empty_like(xc);
  kernels::RotaryParams p{};
  p.out = out.data_ptr();
  p.x = xc.data_ptr();
  p.cos = cc.data_ptr<float>();
  p.sin = sc.data_ptr<float>();
  p.batch = xc.size(0);
  p.tokens = xc.size(1);
  p.heads = xc.size(2);
  p.head_dim = xc.size(3);
  p.tables_per_batch = cos.dim() == 3;
  p.dtype = x.scalar_type() == at::kFloat  ? kernels::KernelDType::kF32
            : x.scalar_type() == at::kHalf ? kernels::KernelDType::kF16
                                           : kernels::KernelDType::kBF16;
  const cudaError_t err = kernels::launch_rotary(p, at::cuda::getCurrentCUDAStream());
  DUOGEN_CHECK(err == cudaSuccess, Error, "apply_rotary CUDA kernel failed: {}",
               cudaGetErrorString(err));
  return out;
}
#endif

}  // namespace

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  DUOGEN_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, InvalidArgument,
               "apply_rotary: expected x [B, S, H, D] with even D, got {}", x.sizes());
  DUOGEN_CHECK(cos.sizes() == sin.sizes(), InvalidArgument,
               "apply_rotary: cos {} and sin {} differ", cos.sizes(), sin.sizes());
  const bool shared = cos.dim() == 2 && cos.size(0) == x.size(1) && cos.size(1) == x.size(3);
  const bool per_batch = cos.dim() == 3 && cos.size(0) == x.size(0) && cos.size(1) == x.size(1) &&
                         cos.size(2) == x.size(3);
  DUOGEN_CHECK(shared || per_batch, InvalidArgument,
               "apply_rotary: tables {} fit neither [S, D] nor [B, S, D] for x {}", cos.sizes(),
               x.sizes());
  DUOGEN_CHECK(x.device() == cos.device() && x.device() == sin.device(), InvalidArgument,
               "apply_rotary: x and the tables on different devices");
#ifdef DUOGEN_WITH_CUDA
  const auto t = x.scalar_type();
  if (x.is_cuda() && (t == at::kFloat || t == at::kHalf || t == at::kBFloat16)) {
    return apply_rotary_cuda(x, cos, sin);
  }
#endif
  return reference::apply_rotary(x, cos, sin);
}

}  // namespace duogen::ops
