// Scaled dot-product attention entry points shared by the MLLM (vision windows, causal prefill,
// KV-cache decode), the DiT (packed frames, cross-attention) and the VAE mid-block. CUDA tensors go
// to the fastest backend that computes the call exactly (attention_dispatch.h: the project's flash
// kernels of kernels/attention/, with split-K flash-decoding, or libtorch's FlashAttention-2,
// cuDNN and mem-efficient kernels), in the order a measured table gives, else a built-in one; a
// backend that throws falls back to the next. CPU tensors, and whatever no fused kernel computes,
// run reference::attention.
#pragma once

#include <cstdint>
#include <optional>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "kernels/ops/attention_dispatch.h"

namespace duogen::ops {

struct AttentionOptions {
  // Bottom-right aligned: with Sq queries and Sk keys, query i sees keys j <= i + (Sk - Sq), which
  // is the KV-cache convention (the queries are the last Sq positions of the key sequence).
  bool causal = false;
  // Softmax scale; default 1/sqrt(head_dim).
  std::optional<double> scale;
  // The call site, for the measured table and the usage counts.
  AttentionSite site = AttentionSite::kGeneric;
  // The engine's dispatch (its table and usage counts); null: the built-in order, nothing counted.
  const AttentionDispatch* dispatch = nullptr;
};

// The segments of packed (varlen) attention, made once per forward and shared by its layers: the
// prefix sums checked and kept on the host (the rules and the reference read them there) and, for
// a CUDA device, as int32 on it, copied once from pinned memory without a host sync -- so a ViT
// forward or a DiT step does not copy and synchronise in every layer.
struct VarlenLayout {
  at::Tensor cu_q, cu_k;                // CPU int64 [S + 1]
  at::Tensor cu_q_device, cu_k_device;  // int32 on the device; undefined for a CPU layout
  std::int64_t total_q = 0, total_k = 0;  // last prefix entries
  std::int64_t max_q = 0, max_k = 0;      // longest segments
  bool empty_key_segment = false;         // a segment with queries but no keys

  std::int64_t segments() const { return cu_q.numel() - 1; }
  // cu_seqlens_q/k: integer [S + 1] prefix sums (on any device; read once). Throws
  // InvalidArgument unless both rise from 0 without decreasing and have the same length.
  static VarlenLayout make(const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                           c10::Device device);
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
// The same with a prepared layout (layout.total_q / total_k must equal Nq / Nk).
at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const VarlenLayout& layout, const AttentionOptions& options = {});

}  // namespace duogen::ops
