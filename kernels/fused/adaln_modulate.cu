// adaLN modulation x * (1 + scale) + shift with per-sample (or per-frame) modulation rows,
// fp32 math and a single rounding, or a rounding after each operation (round_each_op).
#include "kernels/common/device_utils.cuh"
#include "kernels/fused/fused_params.h"

namespace duogen::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adaln_kernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ scale,
                 const T* __restrict__ shift, std::int64_t n, std::int64_t tokens,
                 std::int64_t channels, std::int64_t mod_rows, bool round_each_op) {
  using device::to_float;
  const std::int64_t group = tokens / mod_rows;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    const std::int64_t c = i % channels;
    const std::int64_t s = (i / channels) % tokens;
    const std::int64_t b = i / (channels * tokens);
    const std::int64_t m = (b * mod_rows + s / group) * channels + c;
    // Each ATen op computes in fp32 and rounds its own result; round_each_op replays that.
    const auto round = [&](float v) {
      return round_each_op ? to_float(device::from_float<T>(v)) : v;
    };
    const float scaled = round(to_float(x[i]) * round(1.f + to_float(scale[m])));
    out[i] = device::from_float<T>(scaled + to_float(shift[m]));
  }
}

template <typename T>
cudaError_t launch(const AdaLnModulateParams& p, cudaStream_t stream) {
  const std::int64_t n = p.batch * p.tokens * p.channels;
  if (n == 0) return cudaSuccess;
  if (p.mod_rows <= 0 || p.tokens % p.mod_rows != 0) return cudaErrorInvalidValue;
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  const auto grid = static_cast<unsigned>(blocks < 65535 * 16 ? blocks : 65535 * 16);
  adaln_kernel<T><<<grid, kThreads, 0, stream>>>(
      static_cast<T*>(p.out), static_cast<const T*>(p.x), static_cast<const T*>(p.scale),
      static_cast<const T*>(p.shift), n, p.tokens, p.channels, p.mod_rows, p.round_each_op);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_adaln_modulate(const AdaLnModulateParams& params, cudaStream_t stream) {
  switch (params.dtype) {
    case KernelDType::kF32: return launch<float>(params, stream);
    case KernelDType::kF16: return launch<__half>(params, stream);
    case KernelDType::kBF16: return launch<__nv_bfloat16>(params, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace duogen::kernels
