// Dispatch of the flash-attention forward over (dtype, head dim) and the split-K combine kernel
// (flash-decoding): each split wrote its normalised partial output O_s and its log2-sum-exp L_s;
// the final output is sum_s w_s O_s with w_s = exp2(L_s - max L) / sum_s exp2(L_s - max L).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "kernels/attention/flash_params.h"
#include "kernels/common/device_utils.cuh"

namespace duogen::kernels {
namespace detail {

// Each specialisation is defined in flash_fwd_hdim<D>.cu.
template <>
cudaError_t launch_flash_fwd<__half, 64>(const FlashParams&, cudaStream_t);
template <>
cudaError_t launch_flash_fwd<__nv_bfloat16, 64>(const FlashParams&, cudaStream_t);
template <>
cudaError_t launch_flash_fwd<__half, 80>(const FlashParams&, cudaStream_t);
template <>
cudaError_t launch_flash_fwd<__nv_bfloat16, 80>(const FlashParams&, cudaStream_t);
template <>
cudaError_t launch_flash_fwd<__half, 128>(const FlashParams&, cudaStream_t);
template <>
cudaError_t launch_flash_fwd<__nv_bfloat16, 128>(const FlashParams&, cudaStream_t);

namespace {

constexpr int kCombineWarps = 4;

// One warp per (batch, head, query row); lanes stride over the head dim.
template <typename T>
__global__ void __launch_bounds__(kCombineWarps * 32)
    flash_combine_kernel(const FlashParams p) {
  const std::int64_t rows = static_cast<std::int64_t>(p.batch) * p.heads_q * p.seqlen_q;
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * kCombineWarps + threadIdx.x / 32;
  if (r >= rows) return;
  const int lane = threadIdx.x % 32;
  const int row = static_cast<int>(r % p.seqlen_q);
  const int head = static_cast<int>((r / p.seqlen_q) % p.heads_q);
  const int batch = static_cast<int>(r / (static_cast<std::int64_t>(p.seqlen_q) * p.heads_q));
  const std::int64_t split_stride = rows;  // lse_accum is [split][batch][head][row]

  float lse_max = -INFINITY;
  for (int s = 0; s < p.num_splits; ++s) lse_max = fmaxf(lse_max, p.lse_accum[s * split_stride + r]);
  T* o = static_cast<T*>(p.o) + batch * p.o_batch_stride + row * p.o_row_stride +
         head * p.o_head_stride;
  if (lse_max == -INFINITY) {  // no split saw a key
    for (int d = lane; d < p.head_dim; d += 32) o[d] = device::from_float<T>(0.f);
    return;
  }
  float weight_sum = 0.f;
  for (int s = 0; s < p.num_splits; ++s) weight_sum += exp2f(p.lse_accum[s * split_stride + r] - lse_max);
  const float inv = 1.f / weight_sum;
  for (int d = lane; d < p.head_dim; d += 32) {
    float acc = 0.f;
    for (int s = 0; s < p.num_splits; ++s) {
      const float w = exp2f(p.lse_accum[s * split_stride + r] - lse_max);
      if (w > 0.f) acc += w * p.o_accum[(s * split_stride + r) * p.head_dim + d];
    }
    o[d] = device::from_float<T>(acc * inv);
  }
}

template <typename T>
cudaError_t launch_combine_t(const FlashParams& p, cudaStream_t stream) {
  const std::int64_t rows = static_cast<std::int64_t>(p.batch) * p.heads_q * p.seqlen_q;
  if (rows == 0) return cudaSuccess;
  const auto blocks = static_cast<unsigned>((rows + kCombineWarps - 1) / kCombineWarps);
  flash_combine_kernel<T><<<blocks, kCombineWarps * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_for_dtype(const FlashParams& p, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  switch (p.head_dim) {
    case 64: err = launch_flash_fwd<T, 64>(p, stream); break;
    case 80: err = launch_flash_fwd<T, 80>(p, stream); break;
    case 128: err = launch_flash_fwd<T, 128>(p, stream); break;
    default: return cudaErrorInvalidValue;
  }
  if (err != cudaSuccess || p.num_splits == 1) return err;
  return launch_combine_t<T>(p, stream);
}

}  // namespace

cudaError_t launch_flash_combine(const FlashParams& p, cudaStream_t stream) {
  switch (p.dtype) {
    case KernelDType::kF16: return launch_combine_t<__half>(p, stream);
    case KernelDType::kBF16: return launch_combine_t<__nv_bfloat16>(p, stream);
    case KernelDType::kF32: break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace detail

cudaError_t launch_flash_attention(const FlashParams& params, cudaStream_t stream) {
  if (params.num_splits < 1 || params.heads_kv < 1 || params.heads_q % params.heads_kv != 0 ||
      (params.num_splits > 1 && (params.cu_seqlens_q != nullptr || params.cu_seqlens_k != nullptr ||
                                 params.o_accum == nullptr || params.lse_accum == nullptr))) {
    return cudaErrorInvalidValue;
  }
  switch (params.dtype) {
    case KernelDType::kF16: return detail::launch_for_dtype<__half>(params, stream);
    case KernelDType::kBF16: return detail::launch_for_dtype<__nv_bfloat16>(params, stream);
    case KernelDType::kF32: break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace duogen::kernels
