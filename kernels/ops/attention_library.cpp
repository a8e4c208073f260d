#include "kernels/ops/attention_library.h"

#include <ATen/ATen.h>
#include <ATen/ops/_efficient_attention_forward.h>
#include <ATen/ops/_flash_attention_forward.h>
#include <ATen/ops/_scaled_dot_product_cudnn_attention.h>

#include <optional>
#include <tuple>

namespace duogen::ops::library {
namespace {

// sdp::CustomMaskType of the mem-efficient kernel (aten/src/ATen/native/transformers/sdp_utils).
constexpr std::int64_t kNoMask = 0;
constexpr std::int64_t kCausalFromBottomRight = 2;

// [B, H, S, D] <-> [B, S, H, D]: FlashAttention-2 and the mem-efficient kernel take sequence-major
// tensors with any batch / row / head strides and a unit stride on D (a view, no copy).
at::Tensor seq_major(const at::Tensor& x) {
  const at::Tensor t = x.transpose(1, 2);
  return t.stride(-1) == 1 ? t : t.contiguous();
}

// Key heads repeated to the query heads for kernels without grouped-query support (a copy; its
// cost is part of what bench_kernels measures). head_axis: 1 for [B, H, S, D], 2 for [B, S, H, D].
at::Tensor repeat_heads(const at::Tensor& x, std::int64_t heads_q, std::int64_t head_axis) {
  const std::int64_t groups = heads_q / x.size(head_axis);
  return groups == 1 ? x : x.repeat_interleave(groups, head_axis);
}

}  // namespace

at::Tensor flash_dense(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                       double scale) {
  // FlashAttention-2 masks bottom-right (row i sees keys j <= i + Sk - Sq), reads grouped key
  // heads natively and swaps a single query's head groups into rows itself.
  const std::int64_t sq = q.size(2), sk = k.size(2);
  const auto out = at::_flash_attention_forward(seq_major(q), seq_major(k), seq_major(v),
                                                std::nullopt, std::nullopt, sq, sk,
                                                /*dropout_p=*/0.0, causal && sq > 1,
                                                /*return_debug_mask=*/false, scale);
  return std::get<0>(out).transpose(1, 2);
}

at::Tensor cudnn_dense(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                       double scale) {
  // cuDNN's mask is top-left: the dispatch sends it causal problems only when square (or one
  // query, which sees every key). Contiguous inputs: the layouts its plans are cached and tested
  // for; the copy of a strided or stride-0 view is part of the measured time.
  const std::int64_t hq = q.size(1);
  const bool is_causal = causal && q.size(2) > 1;
  const auto out = at::_scaled_dot_product_cudnn_attention(
      q.contiguous(), repeat_heads(k, hq, 1).contiguous(), repeat_heads(v, hq, 1).contiguous(),
      /*attn_bias=*/std::nullopt, /*compute_log_sumexp=*/false, /*dropout_p=*/0.0, is_causal,
      /*return_debug_mask=*/false, scale);
  return std::get<0>(out);
}

at::Tensor efficient_dense(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           bool causal, double scale) {
  const std::int64_t hq = q.size(1);
  const std::int64_t mask = causal && q.size(2) > 1 ? kCausalFromBottomRight : kNoMask;
  const auto out = at::_efficient_attention_forward(
      seq_major(q).contiguous(), repeat_heads(seq_major(k), hq, 2).contiguous(),
      repeat_heads(seq_major(v), hq, 2).contiguous(), /*bias=*/std::nullopt,
      /*cu_seqlens_q=*/std::nullopt, /*cu_seqlens_k=*/std::nullopt, std::nullopt, std::nullopt,
      /*dropout_p=*/0.0, mask, /*compute_log_sumexp=*/false, scale);
  return std::get<0>(out).transpose(1, 2);
}

at::Tensor flash_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                        const VarlenLayout& layout, bool causal, double scale) {
  const auto out = at::_flash_attention_forward(
      q.stride(-1) == 1 ? q : q.contiguous(), k.stride(-1) == 1 ? k : k.contiguous(),
      v.stride(-1) == 1 ? v : v.contiguous(), layout.cu_q_device, layout.cu_k_device,
      layout.max_q, layout.max_k, /*dropout_p=*/0.0, causal, /*return_debug_mask=*/false, scale);
  return std::get<0>(out);
}

at::Tensor efficient_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const VarlenLayout& layout, bool causal, double scale) {
  // One "batch" of packed tokens, [1, N, H, D]; the mask applies per segment.
  const std::int64_t hq = q.size(1);
  const auto out = at::_efficient_attention_forward(
      q.contiguous().unsqueeze(0), repeat_heads(k, hq, 1).contiguous().unsqueeze(0),
      repeat_heads(v, hq, 1).contiguous().unsqueeze(0), /*bias=*/std::nullopt,
      layout.cu_q_device, layout.cu_k_device, layout.max_q, layout.max_k, /*dropout_p=*/0.0,
      causal ? kCausalFromBottomRight : kNoMask, /*compute_log_sumexp=*/false, scale);
  return std::get<0>(out).squeeze(0);
}

}  // namespace duogen::ops::library
