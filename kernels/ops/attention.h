// Scaled dot-product attention entry points shared by the MLLM (vision windows, causal prefill,
// KV-cache decode) and the DiT (packed frames, cross-attention). fp16 / bf16 CUDA tensors with head
// dim 64, 80 or 128 run the flash-attention kernels of kernels/attention/ (split-K flash-decoding
// when the grid is too small for the GPU, e.g. one query against a long KV cache); everything else
// runs reference::attention, whose SDPA call uses torch's fused backends on a GPU.
#pragma once

#include <optional>

#include <ATen/core/Tensor.h>

namespace duogen::ops {

struct AttentionOptions {
  // Bottom-right aligned: with Sq queries and Sk keys, query i sees keys j <= i + (Sk - Sq), which
  // is the KV-cache convention (the queries are the last Sq positions of the key sequence).
  bool causal = false;
  // Softmax scale; default 1/sqrt(head_dim).
  std::optional<double> scale;
};

// q: [B, Hq, Sq, D]; k, v: [B, Hkv, Sk, D] with Hq % Hkv == 0 (grouped-query attention: query
// head h reads key head h / (Hq / Hkv)). Returns [B, Hq, Sq, D] in q's dtype.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options = {});

// Packed variable-length attention: q: [Nq, Hq, D]; k, v: [Nk, Hkv, D]; cu_seqlens_q/k: integer
// [S + 1] prefix sums (first 0, last Nq / Nk). Segment s of the queries attends only to segment s
// of the keys; empty segments are allowed (a query segment with no keys yields zeros). With
// causal, segments need at least as many keys as queries (a query row that sees no key is
// undefined in the reference and zero in the kernel). Returns [Nq, Hq, D].
at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            const AttentionOptions& options = {});

}  // namespace duogen::ops
