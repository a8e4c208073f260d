// Parameters and launchers of the flash-attention forward kernels (kernels/attention/). No torch
// here: the host wrapper (kernels/ops/attention.cpp) fills the struct from at::Tensors, allocates
// the split-K scratch buffers and picks the number of splits.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/common/kernel_types.h"

namespace duogen::kernels {

// Head dimensions the kernels are instantiated for (Qwen ViT 80, DiT / LLM 128, and 64).
constexpr bool flash_supports_head_dim(std::int64_t d) { return d == 64 || d == 80 || d == 128; }

// One attention problem in "rows x heads" form. A query row is addressed as
//   q + b * q_batch_stride + (row_start + i) * q_row_stride + h * q_head_stride
// (element strides; the head_dim axis is contiguous, and every stride and base pointer is 16-byte
// aligned, which the host wrapper guarantees). Dense [B, H, S, D] sets row_start = 0; packed
// variable-length input sets batch strides to 0 and reads row_start / lengths from cu_seqlens.
struct FlashParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;  // same dtype as q, written for every valid query row (zeros where no key is visible)
  std::int64_t q_batch_stride, q_row_stride, q_head_stride;
  std::int64_t k_batch_stride, k_row_stride, k_head_stride;
  std::int64_t v_batch_stride, v_row_stride, v_head_stride;
  std::int64_t o_batch_stride, o_row_stride, o_head_stride;

  // Device int32 [batch + 1] prefix sums, or null for fixed lengths seqlen_q / seqlen_k.
  const int* cu_seqlens_q;
  const int* cu_seqlens_k;
  int batch;     // batch size or number of segments
  int heads_q;   // query heads (a multiple of heads_kv)
  int heads_kv;  // key/value heads
  int seqlen_q;  // fixed query length, or the longest query segment (sizes the grid)
  int seqlen_k;  // fixed key length (ignored with cu_seqlens_k)
  int head_dim;  // 64, 80 or 128
  float scale;   // softmax scale applied to q.k
  // Bottom-right aligned: query i of a segment with sq queries and sk keys sees keys
  // j <= i + sk - sq.
  bool causal;

  // Split-K (flash-decoding): with num_splits > 1 the kernel writes per-split partial results
  // (normalised fp32 output and log2-sum-exp) to o_accum [num_splits, batch, heads_q, seqlen_q,
  // head_dim] and lse_accum [num_splits, batch, heads_q, seqlen_q], and the combine kernel writes
  // o. Only for fixed lengths (no cu_seqlens).
  int num_splits;
  float* o_accum;
  float* lse_accum;

  KernelDType dtype;  // kF16 or kBF16 (q, k, v and o)
};

// Launches the forward kernel and, when num_splits > 1, the combine kernel. Returns the first
// launch error, or cudaErrorInvalidValue for an unsupported dtype / head dim.
cudaError_t launch_flash_attention(const FlashParams& params, cudaStream_t stream);

// Tile sizes shared with the host wrapper's split heuristic.
constexpr int kFlashBlockM = 64;  // query rows per thread block (16 per warp, 4 warps)
constexpr int kFlashBlockN = 64;  // keys per main-loop iteration

namespace detail {
// One instantiation per (dtype, head dim), each in its own translation unit.
template <typename T, int HeadDim>
cudaError_t launch_flash_fwd(const FlashParams& params, cudaStream_t stream);
cudaError_t launch_flash_combine(const FlashParams& params, cudaStream_t stream);
}  // namespace detail

}  // namespace duogen::kernels
