// Fused residual add + RMSNorm: one block per row, fp32 statistics. The sum is rounded to the
// storage dtype first (it is the new residual stream, as in the Hugging Face decoder layer) and
// the statistics are taken from the rounded values, as the unfused code would.
#include "kernels/common/device_utils.cuh"
#include "kernels/fused/fused_params.h"

namespace duogen::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    add_rms_norm_kernel(T* __restrict__ out, T* __restrict__ residual_out,
                        const T* __restrict__ x, const T* __restrict__ residual,
                        const T* __restrict__ weight, std::int64_t dim, float eps) {
  using device::from_float;
  using device::to_float;
  __shared__ float scratch[kThreads / 32];
  const std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * dim;
  float sum_sq = 0.f;
  for (std::int64_t i = threadIdx.x; i < dim; i += kThreads) {
    const T h = from_float<T>(to_float(x[base + i]) + to_float(residual[base + i]));
    residual_out[base + i] = h;
    const float hf = to_float(h);
    sum_sq += hf * hf;
  }
  const float inv_rms = rsqrtf(device::block_sum<kThreads>(sum_sq, scratch) /
                                   static_cast<float>(dim) + eps);
  // Each thread re-reads only the elements it wrote itself, so no barrier is needed.
  for (std::int64_t i = threadIdx.x; i < dim; i += kThreads) {
    const T normed = from_float<T>(to_float(residual_out[base + i]) * inv_rms);
    out[base + i] = from_float<T>(to_float(weight[i]) * to_float(normed));
  }
}

template <typename T>
cudaError_t launch(const AddRmsNormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  add_rms_norm_kernel<T><<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(
      static_cast<T*>(p.out), static_cast<T*>(p.residual_out), static_cast<const T*>(p.x),
      static_cast<const T*>(p.residual), static_cast<const T*>(p.weight), p.dim, p.eps);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_add_rms_norm(const AddRmsNormParams& params, cudaStream_t stream) {
  switch (params.dtype) {
    case KernelDType::kF32: return launch<float>(params, stream);
    case KernelDType::kF16: return launch<__half>(params, stream);
    case KernelDType::kBF16: return launch<__nv_bfloat16>(params, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace duogen::kernels
