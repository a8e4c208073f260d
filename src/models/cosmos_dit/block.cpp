#include "models/cosmos_dit/block.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/check.h"
#include "kernels/ops/adaln_modulate.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/rms_norm.h"

namespace duogen::cosmos_dit {
namespace {

constexpr double kLayerNormEps = 1e-6;

at::Tensor to_float(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; }

// x += y * gate_f on each frame's tokens (in place on x).
void gated_add_(at::Tensor& x, const at::Tensor& y, const at::Tensor& gate,
                const std::vector<std::int64_t>& frame_tokens) {
  if (frame_tokens.size() == 1) {
    x.add_(y * gate);
    return;
  }
  std::int64_t offset = 0;
  for (std::size_t f = 0; f < frame_tokens.size(); ++f) {
    const std::int64_t n = frame_tokens[f];
    const auto fi = static_cast<std::int64_t>(f);
    x.narrow(1, offset, n).add_(y.narrow(1, offset, n) * gate.narrow(1, fi, 1));
    offset += n;
  }
}

}  // namespace

at::Tensor modulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale,
                    const std::vector<std::int64_t>& frame_tokens) {
  const at::Tensor xn =
      at::layer_norm(x.to(at::kFloat), {x.size(-1)}, {}, {}, kLayerNormEps).to(x.scalar_type());
  // diffusers' `norm(x) * (1 + scale) + shift`, fused on CUDA with the same three roundings.
  const auto equal = [&](std::int64_t n) { return n == frame_tokens.front(); };
  if (std::all_of(frame_tokens.begin(), frame_tokens.end(), equal)) {
    return ops::adaln_modulate(xn, scale, shift, ops::Rounding::kPerOp);  // one row per frame
  }
  at::Tensor out = at::empty_like(xn);
  std::int64_t offset = 0;
  for (std::size_t f = 0; f < frame_tokens.size(); ++f) {
    const std::int64_t n = frame_tokens[f];
    const auto fi = static_cast<std::int64_t>(f);
    out.narrow(1, offset, n)
        .copy_(ops::adaln_modulate(xn.narrow(1, offset, n), scale.narrow(1, fi, 1),
                                   shift.narrow(1, fi, 1), ops::Rounding::kPerOp));
    offset += n;
  }
  return out;
}

AdaLNModulation::AdaLNModulation(const io::WeightView& view, const Config& config,
                                 std::int64_t chunks)
    : chunks_(chunks), dim_(config.hidden_size()) {
  linear_1_ = to_float(view.get("linear_1.weight", {config.adaln_lora_dim, dim_}));
  linear_2_ = to_float(view.get("linear_2.weight", {chunks * dim_, config.adaln_lora_dim}));
}

std::vector<at::Tensor> AdaLNModulation::forward(const FrameConditioning& cond) const {
  at::Tensor m = at::linear(at::linear(at::silu(cond.embedded), linear_1_), linear_2_);
  m = m + cond.lora.narrow(-1, 0, chunks_ * dim_);
  return m.chunk(chunks_, -1);
}

Block::Block(const io::WeightView& view, const Config& config, c10::ScalarType dtype)
    : dim_(config.hidden_size()),
      num_heads_(config.num_attention_heads),
      head_dim_(config.attention_head_dim),
      qk_eps_(config.qk_norm_eps),
      dtype_(dtype),
      norm1_(view.sub("norm1"), config, 3),
      norm2_(view.sub("norm2"), config, 3),
      norm3_(view.sub("norm3"), config, 3) {
  attn1_ = load_attention(view.sub("attn1"), dim_);
  attn2_ = load_attention(view.sub("attn2"), config.context_dim());
  ff_1_ = view.get("ff.net.0.proj.weight", {config.mlp_hidden(), dim_});
  ff_2_ = view.get("ff.net.2.weight", {dim_, config.mlp_hidden()});
}

Block::Attention Block::load_attention(const io::WeightView& view, std::int64_t kv_in) const {
  Attention a;
  a.to_q = view.get("to_q.weight", {dim_, dim_});
  a.to_k = view.get("to_k.weight", {dim_, kv_in});
  a.to_v = view.get("to_v.weight", {dim_, kv_in});
  a.norm_q = view.get("norm_q.weight", {head_dim_});
  a.norm_k = view.get("norm_k.weight", {head_dim_});
  a.to_out = view.get("to_out.0.weight", {dim_, dim_});
  return a;
}

ops::VarlenLayout cross_attention_segments(const ContextKV& ctx, std::int64_t batch,
                                           std::int64_t tokens, c10::Device device) {
  DUOGEN_CHECK(ctx.cu_seqlens.defined() && ctx.cu_seqlens.numel() == batch + 1, InvalidArgument,
               "Cosmos DiT: {} stacked contexts do not fit latent batch {}",
               ctx.cu_seqlens.defined() ? ctx.cu_seqlens.numel() - 1 : 0, batch);
  const at::Tensor cu_q = at::arange(0, (batch + 1) * tokens, tokens, at::kLong);
  return ops::VarlenLayout::make(cu_q, ctx.cu_seqlens, device);
}

at::Tensor Block::heads(const at::Tensor& x) const {
  return x.view({x.size(0), x.size(1), num_heads_, head_dim_});
}

ContextKV Block::prepare_context(const at::Tensor& context) const {
  const at::Tensor c = context.to(attn2_.to_k.device(), dtype_);
  at::Tensor k = ops::rms_norm(heads(at::linear(c, attn2_.to_k)), attn2_.norm_k, qk_eps_);
  at::Tensor v = heads(at::linear(c, attn2_.to_v));
  return {k.transpose(1, 2).contiguous(), v.transpose(1, 2).contiguous(), /*cu_seqlens=*/{}};
}

at::Tensor Block::self_attention(const at::Tensor& xn, const RopeTables& rope,
                                 const BlockAttention& attention) const {
  const auto& a = attn1_;
  // QK-norm, then RoPE (rotated in fp32, rounded back to the network dtype; §8.8).
  const at::Tensor q = apply_rope(ops::rms_norm(heads(at::linear(xn, a.to_q)), a.norm_q, qk_eps_), rope);
  const at::Tensor k = apply_rope(ops::rms_norm(heads(at::linear(xn, a.to_k)), a.norm_k, qk_eps_), rope);
  const at::Tensor v = heads(at::linear(xn, a.to_v));
  ops::AttentionOptions options;
  options.site = ops::AttentionSite::kDitSelf;
  options.dispatch = attention.dispatch;
  const at::Tensor o =
      ops::attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), options);
  return at::linear(o.transpose(1, 2).reshape({xn.size(0), xn.size(1), dim_}), a.to_out);
}

at::Tensor Block::cross_attention(const at::Tensor& xn, const ContextKV& ctx,
                                  const BlockAttention& attention) const {
  const auto& a = attn2_;
  const std::int64_t b = xn.size(0), n = xn.size(1);
  ops::AttentionOptions options;
  options.dispatch = attention.dispatch;
  if (ctx.cu_seqlens.defined()) {
    DUOGEN_CHECK(ctx.cu_seqlens.numel() == b + 1, InvalidArgument,
                 "Cosmos DiT: {} stacked contexts do not fit latent batch {}",
                 ctx.cu_seqlens.numel() - 1, b);
    // Row b's n queries against context b: varlen segments of n queries each.
    const at::Tensor q = ops::rms_norm(heads(at::linear(xn, a.to_q)), a.norm_q, qk_eps_);
    options.site = ops::AttentionSite::kDitCrossVarlen;
    const ops::VarlenLayout local =
        attention.cross_segments != nullptr ? ops::VarlenLayout{}
                                            : cross_attention_segments(ctx, b, n, xn.device());
    const ops::VarlenLayout& segments =
        attention.cross_segments != nullptr ? *attention.cross_segments : local;
    const at::Tensor o = ops::varlen_attention(q.reshape({b * n, num_heads_, head_dim_}), ctx.k,
                                               ctx.v, segments, options);
    return at::linear(o.reshape({b, n, dim_}), a.to_out);
  }
  DUOGEN_CHECK(ctx.k.size(0) == b || ctx.k.size(0) == 1, InvalidArgument,
               "Cosmos DiT: context batch {} does not fit latent batch {}", ctx.k.size(0), b);
  const at::Tensor k = ctx.k.expand({b, -1, -1, -1});
  const at::Tensor v = ctx.v.expand({b, -1, -1, -1});
  const at::Tensor q = ops::rms_norm(heads(at::linear(xn, a.to_q)), a.norm_q, qk_eps_);
  options.site = ops::AttentionSite::kDitCross;
  const at::Tensor o = ops::attention(q.transpose(1, 2), k, v, options);
  return at::linear(o.transpose(1, 2).reshape({b, n, dim_}), a.to_out);
}

at::Tensor Block::forward(const at::Tensor& x_in, const FrameConditioning& cond,
                          const RopeTables& rope, const ContextKV& ctx,
                          const BlockAttention& attention) const {
  at::Tensor x = x_in.clone();
  const auto& frames = cond.frame_tokens;
  const auto cast = [&](const at::Tensor& t) { return t.to(dtype_); };

  auto m = norm1_.forward(cond);
  gated_add_(x, self_attention(modulate(x, cast(m[0]), cast(m[1]), frames), rope, attention), cast(m[2]),
             frames);
  m = norm2_.forward(cond);
  gated_add_(x, cross_attention(modulate(x, cast(m[0]), cast(m[1]), frames), ctx, attention), cast(m[2]),
             frames);
  m = norm3_.forward(cond);
  const at::Tensor h = modulate(x, cast(m[0]), cast(m[1]), frames);
  gated_add_(x, at::linear(at::gelu(at::linear(h, ff_1_)), ff_2_), cast(m[2]), frames);
  return x;
}

}  // namespace duogen::cosmos_dit
