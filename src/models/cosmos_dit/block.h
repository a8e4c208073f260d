// One Cosmos DiT transformer block (architecture.md §8.5) and the per-frame adaLN modulation it
// shares with the final layer.
//
// Tokens carry a frame layout: `frame_tokens[f]` consecutive tokens belong to frame f, and frame
// f's modulation row (shift/scale/gate from its own timestep) applies to all of them. The dense
// video [B, C, T, H, W] is T equal frames; DuoGen's packed sequence (§9.2) is frames of
// different sizes. Self-attention runs over all tokens of all frames, unmasked.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <vector>

#include "io/weight_loader.h"
#include "kernels/ops/attention.h"
#include "models/cosmos_dit/config.h"
#include "models/cosmos_dit/rope3d.h"

namespace duogen::cosmos_dit {

// A block's cross-attention keys and values for one context (k already q/k-normed), computed
// once per context and reused for every sampling step.
struct ContextKV {
  at::Tensor k, v;  // [Bc, heads, L, head_dim] in the network dtype
  // Defined for contexts of different lengths stacked into one batch (both CFG branches in one
  // call): k, v are then [sum L_b, heads, head_dim] and cu_seqlens the CPU int64 prefix sums
  // [B + 1] of the L_b; cross-attention runs as varlen attention, row b against context b.
  at::Tensor cu_seqlens;
};

// The timestep conditioning of one forward pass.
struct FrameConditioning {
  at::Tensor embedded;  // [B, F, D] fp32: RMSNorm(sinusoid(t_f))
  at::Tensor lora;      // [B, F, 3 D] fp32: the adaLN-LoRA term
  std::vector<std::int64_t> frame_tokens;  // F entries, summing to the token count
};

// LayerNorm(no affine, eps 1e-6, computed in fp32) of x, rounded to x's dtype, then
// x_n (1 + scale_f) + shift_f on each frame's tokens. shift/scale [B, F, D] in x's dtype.
at::Tensor modulate(const at::Tensor& x, const at::Tensor& shift, const at::Tensor& scale,
                    const std::vector<std::int64_t>& frame_tokens);

// adaLN modulation linears (`norm{1,2,3}` / `norm_out`), kept in fp32 (§8.8).
class AdaLNModulation {
 public:
  // `chunks` = 3 (shift, scale, gate) in blocks, 2 (shift, scale) in the final layer.
  AdaLNModulation(const io::WeightView& view, const Config& config, std::int64_t chunks);
  // silu(e) -> linear_1 -> linear_2, + lora[..., :chunks D]; split into `chunks` [B, F, D] fp32
  // tensors in order shift, scale[, gate].
  std::vector<at::Tensor> forward(const FrameConditioning& cond) const;

 private:
  std::int64_t chunks_, dim_;
  at::Tensor linear_1_, linear_2_;
};

// The varlen segments of cross-attention against stacked contexts (ctx.cu_seqlens defined): row
// b's `tokens` queries against context b. Throws InvalidArgument unless ctx holds `batch` contexts.
ops::VarlenLayout cross_attention_segments(const ContextKV& ctx, std::int64_t batch,
                                           std::int64_t tokens, c10::Device device);

// Attention state of one forward pass, shared by its blocks: the engine's dispatch and, for
// stacked contexts, the cross-attention segments (made once per pass, not once per block).
struct BlockAttention {
  const ops::AttentionDispatch* dispatch = nullptr;       // null: the built-in order
  const ops::VarlenLayout* cross_segments = nullptr;      // null: made by the block when needed
};

class Block {
 public:
  // `view` is `transformer_blocks.{i}`; weights other than the adaLN linears take `dtype`.
  Block(const io::WeightView& view, const Config& config, c10::ScalarType dtype);

  // context [Bc, L, text_embed_dim] -> this block's cross-attention k/v.
  ContextKV prepare_context(const at::Tensor& context) const;

  // x [B, N, D] in the network dtype -> [B, N, D]. rope: tables for the N tokens. ctx batch is
  // B or 1 (shared by every sample), or B stacked contexts.
  at::Tensor forward(const at::Tensor& x, const FrameConditioning& cond, const RopeTables& rope,
                     const ContextKV& ctx, const BlockAttention& attention = {}) const;

 private:
  struct Attention {
    at::Tensor to_q, to_k, to_v, norm_q, norm_k, to_out;
  };
  Attention load_attention(const io::WeightView& view, std::int64_t kv_in) const;
  // q/k/v [B, S, D] -> [B, S, heads, head_dim]
  at::Tensor heads(const at::Tensor& x) const;
  at::Tensor self_attention(const at::Tensor& xn, const RopeTables& rope,
                            const BlockAttention& attention) const;
  at::Tensor cross_attention(const at::Tensor& xn, const ContextKV& ctx,
                             const BlockAttention& attention) const;

  std::int64_t dim_, num_heads_, head_dim_;
  double qk_eps_;
  c10::ScalarType dtype_;
  AdaLNModulation norm1_, norm2_, norm3_;
  Attention attn1_, attn2_;
  at::Tensor ff_1_, ff_2_;
};

}  // namespace duogen::cosmos_dit
