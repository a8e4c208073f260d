#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/norm/rms_norm.cuh"

namespace duogen::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ float to_float(T v) { return static_cast<float>(v); }
template <>
__device__ float to_float(__half v) { return __half2float(v); }
template <>
__device__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ T from_float(float v) { return static_cast<T>(v); }
template <>
__device__ __half from_float(float v) { return __float2half_rn(v); }
template <>
__device__ __nv_bfloat16 from_float(float v) { return __float2bfloat16_rn(v); }

template <typename T>
__global__ void rms_norm_kernel(T* __restrict__ out, const T* __restrict__ x,
                                const T* __restrict__ weight, std::int64_t dim, float eps) {
  const std::int64_t row = blockIdx.x;
  const T* xr = x + row * dim;
  T* outr = out + row * dim;

  float sum = 0.f;
  for (std::int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = to_float(xr[i]);
    sum += v * v;
  }
  // Warp then block reduction of the sum of squares.
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  __shared__ float warp_sums[kThreads / 32];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = sum;
  __syncthreads();
  if (warp == 0) {
    sum = lane < kThreads / 32 ? warp_sums[lane] : 0.f;
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) warp_sums[0] = sum;
  }
  __syncthreads();
  const float inv_rms = rsqrtf(warp_sums[0] / static_cast<float>(dim) + eps);

  for (std::int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    // Round the normalised value to T before the weight multiply, as the reference does.
    const T normed = from_float<T>(to_float(xr[i]) * inv_rms);
    outr[i] = from_float<T>(to_float(weight[i]) * to_float(normed));
  }
}

// Short rows: one warp per row, eight rows per block, so a [tokens x heads, 128] QK-norm does not
// leave 224 of 256 threads idle (the block kernel's lot at dim 128). Whole warps exit together, so
// the shuffles below never see an inactive lane.
template <typename T>
__global__ void rms_norm_warp_kernel(T* __restrict__ out, const T* __restrict__ x,
                                     const T* __restrict__ weight, std::int64_t rows,
                                     std::int64_t dim, float eps) {
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x % 32;
  const T* xr = x + row * dim;
  T* outr = out + row * dim;
  float sum = 0.f;
  for (std::int64_t i = lane; i < dim; i += 32) {
    const float v = to_float(xr[i]);
    sum += v * v;
  }
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  const float inv_rms = rsqrtf(sum / static_cast<float>(dim) + eps);
  for (std::int64_t i = lane; i < dim; i += 32) {
    const T normed = from_float<T>(to_float(xr[i]) * inv_rms);
    outr[i] = from_float<T>(to_float(weight[i]) * to_float(normed));
  }
}

template <typename T>
cudaError_t launch(const RmsNormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  T* out = static_cast<T*>(p.out);
  const auto* x = static_cast<const T*>(p.x);
  const auto* w = static_cast<const T*>(p.weight);
  if (p.dim <= kWarpRowMaxDim) {
    constexpr int kRowsPerBlock = kThreads / 32;
    const auto blocks = static_cast<unsigned>((p.rows + kRowsPerBlock - 1) / kRowsPerBlock);
    rms_norm_warp_kernel<T><<<blocks, kThreads, 0, stream>>>(out, x, w, p.rows, p.dim, p.eps);
  } else {
    rms_norm_kernel<T><<<static_cast<unsigned>(p.rows), kThreads, 0, stream>>>(
        out, x, w, p.dim, p.eps);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_rms_norm(const RmsNormParams& params, cudaStream_t stream) {
  switch (params.dtype) {
    case KernelDType::kF32: return launch<float>(params, stream);
    case KernelDType::kF16: return launch<__half>(params, stream);
    case KernelDType::kBF16: return launch<__nv_bfloat16>(params, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace duogen::kernels
