#include "kernels/reference/attention.h"

#include <ATen/ATen.h>

namespace duogen::reference {
namespace {

// Transformers' repeat_kv: key head g serves query heads [g * groups, (g + 1) * groups).
at::Tensor repeat_kv(const at::Tensor& x, std::int64_t groups) {
  return groups == 1 ? x : x.repeat_interleave(groups, /*dim=*/1);
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const ops::AttentionOptions& options) {
  const std::int64_t sq = q.size(2);
  const std::int64_t sk = k.size(2);
  const std::int64_t groups = q.size(1) / k.size(1);
  const at::Tensor kr = repeat_kv(k, groups);
  const at::Tensor vr = repeat_kv(v, groups);
  std::optional<at::Tensor> mask;
  bool is_causal = false;
  if (options.causal && sq > 1) {
    if (sq == sk) {
      is_causal = true;  // SDPA's own causal mask is top-left aligned, which equals ours here
    } else {
      const at::Tensor qi = at::arange(sq, q.options().dtype(at::kLong)).unsqueeze(1);
      const at::Tensor kj = at::arange(sk, q.options().dtype(at::kLong)).unsqueeze(0);
      mask = kj <= qi + (sk - sq);
    }
  }
  return at::scaled_dot_product_attention(q, kr, vr, mask, /*dropout_p=*/0.0, is_causal,
                                          options.scale);
}

at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            const ops::AttentionOptions& options) {
  const at::Tensor cq = cu_seqlens_q.to(at::kCPU, at::kLong).contiguous();
  const at::Tensor ck = cu_seqlens_k.to(at::kCPU, at::kLong).contiguous();
  const auto* pq = cq.data_ptr<std::int64_t>();
  const auto* pk = ck.data_ptr<std::int64_t>();
  at::Tensor out = at::zeros_like(q);
  for (std::int64_t s = 0; s + 1 < cq.numel(); ++s) {
    const std::int64_t q0 = pq[s], q1 = pq[s + 1], k0 = pk[s], k1 = pk[s + 1];
    if (q1 == q0) continue;
    // [len, H, D] -> [1, H, len, D]
    const at::Tensor qs = q.slice(0, q0, q1).transpose(0, 1).unsqueeze(0);
    const at::Tensor ks = k.slice(0, k0, k1).transpose(0, 1).unsqueeze(0);
    const at::Tensor vs = v.slice(0, k0, k1).transpose(0, 1).unsqueeze(0);
    if (k1 == k0) continue;  // no keys: the softmax is empty, the output stays zero
    out.slice(0, q0, q1).copy_(reference::attention(qs, ks, vs, options).squeeze(0).transpose(0, 1));
  }
  return out;
}

}  // namespace duogen::reference
