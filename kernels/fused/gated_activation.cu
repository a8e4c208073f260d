// Gated activations (SwiGLU, GELU-erf and GELU-tanh gating): out = act(gate) * up in fp32 with
// a single rounding to the storage dtype, or with act(gate) rounded first (round_each_op).
#include "kernels/common/device_utils.cuh"
#include "kernels/fused/fused_params.h"

namespace duogen::kernels {
namespace {

constexpr int kThreads = 256;

template <GateActivation A>
__device__ __forceinline__ float activate(float x) {
  if constexpr (A == GateActivation::kSilu) {
    return x / (1.f + expf(-x));
  } else if constexpr (A == GateActivation::kGeluErf) {
    return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
  } else {
    // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.f + tanhf(inner));
  }
}

template <typename T, GateActivation A>
__global__ void __launch_bounds__(kThreads)
    gated_kernel(T* __restrict__ out, const T* __restrict__ gate, const T* __restrict__ up,
                 std::int64_t n, bool round_each_op) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    float act = activate<A>(device::to_float(gate[i]));
    if (round_each_op) act = device::to_float(device::from_float<T>(act));
    out[i] = device::from_float<T>(act * device::to_float(up[i]));
  }
}

template <typename T>
cudaError_t launch(const GatedActivationParams& p, cudaStream_t stream) {
  if (p.n == 0) return cudaSuccess;
  const std::int64_t blocks = (p.n + kThreads - 1) / kThreads;
  const auto grid = static_cast<unsigned>(blocks < 65535 * 16 ? blocks : 65535 * 16);
  auto* out = static_cast<T*>(p.out);
  const auto* gate = static_cast<const T*>(p.gate);
  const auto* up = static_cast<const T*>(p.up);
  switch (p.activation) {
    case GateActivation::kSilu:
      gated_kernel<T, GateActivation::kSilu><<<grid, kThreads, 0, stream>>>(out, gate, up, p.n, p.round_each_op);
      break;
    case GateActivation::kGeluErf:
      gated_kernel<T, GateActivation::kGeluErf><<<grid, kThreads, 0, stream>>>(out, gate, up, p.n, p.round_each_op);
      break;
    case GateActivation::kGeluTanh:
      gated_kernel<T, GateActivation::kGeluTanh><<<grid, kThreads, 0, stream>>>(
          out, gate, up, p.n, p.round_each_op);
      break;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_gated_activation(const GatedActivationParams& params, cudaStream_t stream) {
  switch (params.dtype) {
    case KernelDType::kF32: return launch<float>(params, stream);
    case KernelDType::kF16: return launch<__half>(params, stream);
    case KernelDType::kBF16: return launch<__nv_bfloat16>(params, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace duogen::kernels
