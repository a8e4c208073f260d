#include "kernels/ops/attention.h"

#include <ATen/ATen.h>

#include "core/check.h"
#include "kernels/reference/attention.h"

namespace duogen::ops {
namespace {

// Heads are axis 1 in both layouts ([B, H, S, D] and [N, H, D]); head_dim is the last axis.
void check_heads(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const char* what) {
  constexpr int head_axis = 1;
  const std::int64_t head_dim = q.dim() - 1;
  DUOGEN_CHECK(k.sizes() == v.sizes(), InvalidArgument, "{}: key {} and value {} differ", what,
               k.sizes(), v.sizes());
  DUOGEN_CHECK(q.size(head_dim) == k.size(head_dim), InvalidArgument,
               "{}: query head dim {} != key head dim {}", what, q.size(head_dim),
               k.size(head_dim));
  DUOGEN_CHECK(k.size(head_axis) > 0 && q.size(head_axis) % k.size(head_axis) == 0,
               InvalidArgument, "{}: {} query heads are not a multiple of {} key heads", what,
               q.size(head_axis), k.size(head_axis));
  DUOGEN_CHECK(q.device() == k.device() && k.device() == v.device(), InvalidArgument,
               "{}: q, k, v on different devices", what);
  DUOGEN_CHECK(q.scalar_type() == k.scalar_type() && k.scalar_type() == v.scalar_type(),
               InvalidArgument, "{}: q, k, v have different dtypes", what);
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options) {
  DUOGEN_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, InvalidArgument,
               "attention: expected [B, H, S, D] tensors, got q {} k {} v {}", q.sizes(),
               k.sizes(), v.sizes());
  DUOGEN_CHECK(q.size(0) == k.size(0), InvalidArgument, "attention: batch {} != {}", q.size(0),
               k.size(0));
  check_heads(q, k, v, "attention");
  DUOGEN_CHECK(!options.causal || q.size(2) <= k.size(2), InvalidArgument,
               "attention: causal with more queries ({}) than keys ({})", q.size(2), k.size(2));
  return reference::attention(q, k, v, options);
}

at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            const AttentionOptions& options) {
  DUOGEN_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, InvalidArgument,
               "varlen_attention: expected [N, H, D] tensors, got q {} k {} v {}", q.sizes(),
               k.sizes(), v.sizes());
  check_heads(q, k, v, "varlen_attention");
  DUOGEN_CHECK(cu_seqlens_q.dim() == 1 && cu_seqlens_q.sizes() == cu_seqlens_k.sizes() &&
                   cu_seqlens_q.numel() >= 1,
               InvalidArgument, "varlen_attention: cu_seqlens shapes {} and {} differ",
               cu_seqlens_q.sizes(), cu_seqlens_k.sizes());
  const at::Tensor cq = cu_seqlens_q.to(at::kCPU, at::kLong);
  const at::Tensor ck = cu_seqlens_k.to(at::kCPU, at::kLong);
  const auto check_prefix = [](const at::Tensor& cu, std::int64_t total, const char* name) {
    DUOGEN_CHECK(cu[0].item<std::int64_t>() == 0 && cu[-1].item<std::int64_t>() == total &&
                     (cu.numel() < 2 || (cu.diff() >= 0).all().item<bool>()),
                 InvalidArgument,
                 "varlen_attention: {} must rise from 0 to {} without decreasing", name, total);
  };
  check_prefix(cq, q.size(0), "cu_seqlens_q");
  check_prefix(ck, k.size(0), "cu_seqlens_k");
  return reference::varlen_attention(q, k, v, cq, ck, options);
}

}  // namespace duogen::ops
