// Rotate-half rotary embedding from precomputed fp32 cos/sin tables. M-RoPE (Qwen2.5-VL), 2D
// (ViT) and 3D (Cosmos) rotary differ only in how the tables are built, so one kernel serves all.
// One thread per rotated pair (x[i], x[i + D/2]).
#include "kernels/common/device_utils.cuh"
#include "kernels/fused/fused_params.h"

namespace duogen::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    rotary_kernel(T* __restrict__ out, const T* __restrict__ x, const float* __restrict__ cos,
                  const float* __restrict__ sin, std::int64_t pairs, std::int64_t tokens,
                  std::int64_t heads, std::int64_t head_dim, bool tables_per_batch) {
  using device::from_float;
  using device::to_float;
  const std::int64_t half = head_dim / 2;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
       idx < pairs; idx += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    const std::int64_t i = idx % half;
    const std::int64_t row = idx / half;  // (b, s, h) flattened
    const std::int64_t s = (row / heads) % tokens;
    const std::int64_t b = row / (heads * tokens);
    const std::int64_t tab = ((tables_per_batch ? b * tokens : 0) + s) * head_dim;
    const std::int64_t xo = row * head_dim;
    const float x1 = to_float(x[xo + i]);
    const float x2 = to_float(x[xo + i + half]);
    out[xo + i] = from_float<T>(x1 * cos[tab + i] - x2 * sin[tab + i]);
    out[xo + i + half] = from_float<T>(x2 * cos[tab + i + half] + x1 * sin[tab + i + half]);
  }
}

template <typename T>
cudaError_t launch(const RotaryParams& p, cudaStream_t stream) {
  const std::int64_t pairs = p.batch * p.tokens * p.heads * (p.head_dim / 2);
  if (pairs == 0) return cudaSuccess;
  const std::int64_t blocks = (pairs + kThreads - 1) / kThreads;
  const auto grid = static_cast<unsigned>(blocks < 65535 * 16 ? blocks : 65535 * 16);
  rotary_kernel<T><<<grid, kThreads, 0, stream>>>(
      static_cast<T*>(p.out), static_cast<const T*>(p.x), p.cos, p.sin, pairs, p.tokens, p.heads,
      p.head_dim, p.tables_per_batch);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_rotary(const RotaryParams& params, cudaStream_t stream) {
  if (params.head_dim % 2 != 0) return cudaErrorInvalidValue;
  switch (params.dtype) {
    case KernelDType::kF32: return launch<float>(params, stream);
    case KernelDType::kF16: return launch<__half>(params, stream);
    case KernelDType::kBF16: return launch<__nv_bfloat16>(params, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace duogen::kernels
