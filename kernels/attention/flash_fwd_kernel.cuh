// Flash-attention forward, sm_80 style: 4 warps per block, each warp owns 16 query rows of a
// 64-row tile; keys and values stream through shared memory in 64-row tiles, double-buffered with
// cp.async so the next tile loads while the current one is multiplied. Q.K^T and P.V run on
// mma.sync.m16n8k16 (fp16/bf16 in, fp32 accumulate); the softmax is the online one (running max
// and sum per row, rescaling the output accumulator), so no score matrix ever reaches memory.
//
// Included only by the per-head-dim translation units (flash_fwd_hdim*.cu), so each
// instantiation compiles in parallel and only the needed (dtype, head dim) pairs exist.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <mutex>

#include "kernels/attention/flash_params.h"
#include "kernels/common/device_utils.cuh"

namespace duogen::kernels::flash {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kBlockM = kFlashBlockM;
constexpr int kBlockN = kFlashBlockN;
static_assert(kBlockM == 16 * kWarps, "one 16-row mma tile per warp");
// Padding of each shared-memory row: keeps rows 16-byte aligned for cp.async and spreads the
// 32-bit fragment loads of the 8 row groups of a warp over distinct banks for D = 64, 80, 128
// (row strides of 36, 44 and 68 words).
constexpr int kPad = 8;

// ---- PTX wrappers -------------------------------------------------------------------------

// 16-byte global -> shared copy; src_bytes = 0 zero-fills the destination without reading.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int src_bytes) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

template <typename T>
struct Mma;

// D (16x8 fp32) += A (16x16, row-major) * B (16x8, column-major).
template <>
struct Mma<__half> {
  static __device__ __forceinline__ void run(float (&d)[4], const std::uint32_t (&a)[4],
                                             std::uint32_t b0, std::uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};
template <>
struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&d)[4], const std::uint32_t (&a)[4],
                                             std::uint32_t b0, std::uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

// Two fp32 values -> one 32-bit register of two T; `lo` goes to the low half, which the mma
// fragment layouts assign to the lower column / k index.
template <typename T>
__device__ __forceinline__ std::uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ std::uint32_t pack2<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);  // .x = lo (low 16 bits)
  return *reinterpret_cast<const std::uint32_t*>(&h);
}
template <>
__device__ __forceinline__ std::uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&h);
}

// Two T at different addresses -> one register (low half = `lo`).
template <typename T>
__device__ __forceinline__ std::uint32_t pack_raw(T lo, T hi) {
  const std::uint16_t l = *reinterpret_cast<const std::uint16_t*>(&lo);
  const std::uint16_t h = *reinterpret_cast<const std::uint16_t*>(&hi);
  return static_cast<std::uint32_t>(l) | (static_cast<std::uint32_t>(h) << 16);
}

__device__ __forceinline__ std::uint32_t load_u32(const void* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);
}

// ---- tile loads -----------------------------------------------------------------------------

// rows x HeadDim tile from global (row stride in elements) into shared (row stride
// HeadDim + kPad); rows at or beyond `valid_rows` are zero-filled, so masked keys hold finite
// values and unused query rows produce finite (discarded) scores.
template <typename T, int HeadDim, int Rows>
__device__ __forceinline__ void load_tile(T* smem, const T* gmem, std::int64_t row_stride,
                                          int valid_rows) {
  constexpr int kChunksPerRow = HeadDim / 8;  // 8 elements = 16 bytes
  constexpr int kChunks = Rows * kChunksPerRow;
  for (int c = threadIdx.x; c < kChunks; c += kThreads) {
    const int row = c / kChunksPerRow;
    const int col = (c % kChunksPerRow) * 8;
    const bool valid = row < valid_rows;
    const T* src = valid ? gmem + row * row_stride + col : gmem;
    cp_async_16(smem + row * (HeadDim + kPad) + col, src, valid ? 16 : 0);
  }
}

// ---- the kernel ------------------------------------------------------------------------------

template <int HeadDim>
constexpr int smem_bytes() {
  // Q tile + two K tiles + two V tiles, 2-byte elements.
  return (kBlockM + 4 * kBlockN) * (HeadDim + kPad) * 2;
}

// grid: (ceil(seqlen_q / kBlockM), heads_q, batch * num_splits); block: kThreads.
template <typename T, int HeadDim>
__global__ void __launch_bounds__(kThreads)
    flash_fwd_kernel(const FlashParams p) {
  static_assert(HeadDim % 16 == 0, "head dim must be a multiple of the mma k (16)");
  constexpr int kStride = HeadDim + kPad;
  constexpr int kKSteps = HeadDim / 16;   // k-steps of Q.K^T
  constexpr int kNTilesS = kBlockN / 8;    // 8-key column tiles of S
  constexpr int kKStepsPV = kBlockN / 16;  // k-steps of P.V
  constexpr int kNTilesO = HeadDim / 8;    // 8-wide column tiles of O

  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* q_s = reinterpret_cast<T*>(smem_raw);
  T* k_s = q_s + kBlockM * kStride;     // [2][kBlockN][kStride]
  T* v_s = k_s + 2 * kBlockN * kStride;  // [2][kBlockN][kStride]

  const int m_block = blockIdx.x;
  const int head = blockIdx.y;
  const int batch = blockIdx.z / p.num_splits;
  const int split = blockIdx.z % p.num_splits;

  int q_start = 0, sq = p.seqlen_q, k_start = 0, sk = p.seqlen_k;
  if (p.cu_seqlens_q != nullptr) {
    q_start = p.cu_seqlens_q[batch];
    sq = p.cu_seqlens_q[batch + 1] - q_start;
  }
  if (p.cu_seqlens_k != nullptr) {
    k_start = p.cu_seqlens_k[batch];
    sk = p.cu_seqlens_k[batch + 1] - k_start;
  }
  const int row0 = m_block * kBlockM;
  if (row0 >= sq) return;  // this segment is shorter than the longest one
  const int kv_head = head / (p.heads_q / p.heads_kv);

  const T* q = static_cast<const T*>(p.q) + batch * p.q_batch_stride +
               (q_start + row0) * p.q_row_stride + head * p.q_head_stride;
  const T* k = static_cast<const T*>(p.k) + batch * p.k_batch_stride + k_start * p.k_row_stride +
               kv_head * p.k_head_stride;
  const T* v = static_cast<const T*>(p.v) + batch * p.v_batch_stride + k_start * p.v_row_stride +
               kv_head * p.v_head_stride;

  // Keys this tile can see: all, or up to the causal bound of its last row.
  const int causal_offset = sk - sq;  // bottom-right alignment
  int n_keys = sk;
  if (p.causal) n_keys = max(0, min(sk, row0 + kBlockM + causal_offset));
  const int n_blocks = (n_keys + kBlockN - 1) / kBlockN;
  const int blocks_per_split = (n_blocks + p.num_splits - 1) / p.num_splits;
  const int nb_begin = split * blocks_per_split;
  const int nb_end = min(n_blocks, nb_begin + blocks_per_split);

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int g = lane / 4;  // row group of the mma fragments
  const int t = lane % 4;  // thread within the group
  // This thread's two query rows within the tile (fragment rows g and g + 8 of its warp).
  const int r_lo = warp * 16 + g;
  const int r_hi = r_lo + 8;

  load_tile<T, HeadDim, kBlockM>(q_s, q, p.q_row_stride, sq - row0);
  if (nb_begin < nb_end) {
    const int n0 = nb_begin * kBlockN;
    load_tile<T, HeadDim, kBlockN>(k_s, k + n0 * p.k_row_stride, p.k_row_stride, sk - n0);
    load_tile<T, HeadDim, kBlockN>(v_s, v + n0 * p.v_row_stride, p.v_row_stride, sk - n0);
  }
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  // Q fragments stay in registers for the whole key loop.
  std::uint32_t q_frag[kKSteps][4];
#pragma unroll
  for (int ks = 0; ks < kKSteps; ++ks) {
    const int c = ks * 16 + 2 * t;
    q_frag[ks][0] = load_u32(q_s + r_lo * kStride + c);
    q_frag[ks][1] = load_u32(q_s + r_hi * kStride + c);
    q_frag[ks][2] = load_u32(q_s + r_lo * kStride + c + 8);
    q_frag[ks][3] = load_u32(q_s + r_hi * kStride + c + 8);
  }

  float o_acc[kNTilesO][4];
#pragma unroll
  for (int i = 0; i < kNTilesO; ++i) o_acc[i][0] = o_acc[i][1] = o_acc[i][2] = o_acc[i][3] = 0.f;
  // Running max (log2 domain, scaled) and this thread's partial running sum, per row.
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.f, l_hi = 0.f;
  const float scale_log2 = p.scale * 1.4426950408889634f;  // exp(x) = exp2(x * log2(e))
  const int row_lo = row0 + r_lo;                           // row index within the segment
  const int row_hi = row0 + r_hi;

  for (int nb = nb_begin; nb < nb_end; ++nb) {
    const int buf = (nb - nb_begin) & 1;
    const T* ks_tile = k_s + buf * kBlockN * kStride;
    const T* vs_tile = v_s + buf * kBlockN * kStride;
    // Prefetch the next tile into the other buffer; the barrier that closed the previous
    // iteration guarantees no warp still reads it.
    if (nb + 1 < nb_end) {
      const int n1 = (nb + 1) * kBlockN;
      T* kd = k_s + (buf ^ 1) * kBlockN * kStride;
      T* vd = v_s + (buf ^ 1) * kBlockN * kStride;
      load_tile<T, HeadDim, kBlockN>(kd, k + n1 * p.k_row_stride, p.k_row_stride, sk - n1);
      load_tile<T, HeadDim, kBlockN>(vd, v + n1 * p.v_row_stride, p.v_row_stride, sk - n1);
    }
    cp_async_commit();

    // S = Q K^T for this warp's 16 rows x 64 keys. K is stored [key][d], i.e. column-major B.
    float s[kNTilesS][4];
#pragma unroll
    for (int j = 0; j < kNTilesS; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
#pragma unroll
      for (int j = 0; j < kNTilesS; ++j) {
        const T* kr = ks_tile + (j * 8 + g) * kStride + ks * 16 + 2 * t;
        Mma<T>::run(s[j], q_frag[ks], load_u32(kr), load_u32(kr + 8));
      }
    }

    // Scale into the log2 domain and mask keys past the segment end or the causal bound.
    const int n0 = nb * kBlockN;
    const bool need_mask =
        n0 + kBlockN > sk || (p.causal && n0 + kBlockN - 1 > row0 + causal_offset);
#pragma unroll
    for (int j = 0; j < kNTilesS; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[j][e] * scale_log2;
        if (need_mask) {
          const int col = n0 + j * 8 + 2 * t + (e & 1);
          const int row = e < 2 ? row_lo : row_hi;
          if (col >= sk || (p.causal && col > row + causal_offset)) x = -INFINITY;
        }
        s[j][e] = x;
      }
    }

    // Online softmax: new row max over this tile (the 4 threads of a group share a row).
    float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
    for (int j = 0; j < kNTilesS; ++j) {
      mx_lo = fmaxf(mx_lo, fmaxf(s[j][0], s[j][1]));
      mx_hi = fmaxf(mx_hi, fmaxf(s[j][2], s[j][3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
      mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, off));
      mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, off));
    }
    // A row that has seen no visible key yet keeps max -inf; subtracting 0 instead keeps
    // exp2(-inf - max) at 0 rather than NaN.
    const float base_lo = mx_lo == -INFINITY ? 0.f : mx_lo;
    const float base_hi = mx_hi == -INFINITY ? 0.f : mx_hi;
    const float corr_lo = device::exp2_approx(m_lo - base_lo);
    const float corr_hi = device::exp2_approx(m_hi - base_hi);
    m_lo = mx_lo;
    m_hi = mx_hi;
    float sum_lo = 0.f, sum_hi = 0.f;
#pragma unroll
    for (int j = 0; j < kNTilesS; ++j) {
      s[j][0] = device::exp2_approx(s[j][0] - base_lo);
      s[j][1] = device::exp2_approx(s[j][1] - base_lo);
      s[j][2] = device::exp2_approx(s[j][2] - base_hi);
      s[j][3] = device::exp2_approx(s[j][3] - base_hi);
      sum_lo += s[j][0] + s[j][1];
      sum_hi += s[j][2] + s[j][3];
    }
    l_lo = l_lo * corr_lo + sum_lo;
    l_hi = l_hi * corr_hi + sum_hi;
#pragma unroll
    for (int i = 0; i < kNTilesO; ++i) {
      o_acc[i][0] *= corr_lo;
      o_acc[i][1] *= corr_lo;
      o_acc[i][2] *= corr_hi;
      o_acc[i][3] *= corr_hi;
    }

    // O += P V. The accumulator layout of two adjacent 8-key tiles of S is exactly the A-operand
    // layout of one 16-key k-step, so P goes from registers straight into the mma.
#pragma unroll
    for (int kk = 0; kk < kKStepsPV; ++kk) {
      const std::uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]),
                                  pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                                  pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                  pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      const T* v0 = vs_tile + (kk * 16 + 2 * t) * kStride + g;  // V row-major = B row-major
#pragma unroll
      for (int i = 0; i < kNTilesO; ++i) {
        const T* vc = v0 + i * 8;
        const std::uint32_t b0 = pack_raw<T>(vc[0], vc[kStride]);
        const std::uint32_t b1 = pack_raw<T>(vc[8 * kStride], vc[9 * kStride]);
        Mma<T>::run(o_acc[i], a, b0, b1);
      }
    }

    cp_async_wait_all();
    __syncthreads();
  }

  // Full row sums across the 4 threads of each group.
#pragma unroll
  for (int off = 1; off < 4; off *= 2) {
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, off);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, off);
  }
  // No visible key (empty key segment, empty split): output 0, log-sum-exp -inf.
  const float inv_lo = l_lo > 0.f ? 1.f / l_lo : 0.f;
  const float inv_hi = l_hi > 0.f ? 1.f / l_hi : 0.f;

  if (p.num_splits == 1) {
    T* o = static_cast<T*>(p.o) + batch * p.o_batch_stride + q_start * p.o_row_stride +
           head * p.o_head_stride;
#pragma unroll
    for (int i = 0; i < kNTilesO; ++i) {
      const int c = i * 8 + 2 * t;
      if (row_lo < sq) {
        *reinterpret_cast<std::uint32_t*>(o + row_lo * p.o_row_stride + c) =
            pack2<T>(o_acc[i][0] * inv_lo, o_acc[i][1] * inv_lo);
      }
      if (row_hi < sq) {
        *reinterpret_cast<std::uint32_t*>(o + row_hi * p.o_row_stride + c) =
            pack2<T>(o_acc[i][2] * inv_hi, o_acc[i][3] * inv_hi);
      }
    }
  } else {
    // [split][batch][head][row][d], rows of the fixed length seqlen_q.
    const std::int64_t slab =
        ((static_cast<std::int64_t>(split) * p.batch + batch) * p.heads_q + head) * p.seqlen_q;
    float* oa = p.o_accum + slab * HeadDim;
    float* la = p.lse_accum + slab;
    if (t == 0) {
      if (row_lo < sq) la[row_lo] = l_lo > 0.f ? m_lo + log2f(l_lo) : -INFINITY;
      if (row_hi < sq) la[row_hi] = l_hi > 0.f ? m_hi + log2f(l_hi) : -INFINITY;
    }
#pragma unroll
    for (int i = 0; i < kNTilesO; ++i) {
      const int c = i * 8 + 2 * t;
      if (row_lo < sq) {
        *reinterpret_cast<float2*>(oa + row_lo * HeadDim + c) =
            make_float2(o_acc[i][0] * inv_lo, o_acc[i][1] * inv_lo);
      }
      if (row_hi < sq) {
        *reinterpret_cast<float2*>(oa + row_hi * HeadDim + c) =
            make_float2(o_acc[i][2] * inv_hi, o_acc[i][3] * inv_hi);
      }
    }
  }
}

template <typename T, int HeadDim>
cudaError_t launch_fwd(const FlashParams& p, cudaStream_t stream) {
  if (p.batch == 0 || p.seqlen_q == 0 || p.heads_q == 0) return cudaSuccess;
  constexpr int kSmem = smem_bytes<HeadDim>();
  auto* kernel = &flash_fwd_kernel<T, HeadDim>;
  if (kSmem > 48 * 1024) {
    // The opt-in belongs to the kernel in each device's context: set once per device, not on
    // every launch (a driver call that serialises with other host threads' launches).
    constexpr int kMaxDevices = 64;
    static std::once_flag once[kMaxDevices];
    static cudaError_t set[kMaxDevices];
    int device = 0;
    cudaError_t err = cudaGetDevice(&device);
    if (err != cudaSuccess) return err;
    if (device < 0 || device >= kMaxDevices) return cudaErrorInvalidDevice;
    std::call_once(once[device], [&] {
      set[device] = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    });
    if (set[device] != cudaSuccess) return set[device];
  }
  const dim3 grid((p.seqlen_q + kBlockM - 1) / kBlockM, p.heads_q, p.batch * p.num_splits);
  if (grid.y > 65535 || static_cast<long long>(p.batch) * p.num_splits > 65535) {
    return cudaErrorInvalidConfiguration;  // grid y / z limits
  }
  kernel<<<grid, kThreads, kSmem, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace duogen::kernels::flash
