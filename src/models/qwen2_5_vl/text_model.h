// The Qwen2.5-VL language model (`model.*`, architecture.md §5): a Qwen2 decoder with M-RoPE.
//
// Follows transformers 5.23 `Qwen2_5_VLTextModel`: token embedding, decoder layers
//   x += o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))), n = input_layernorm(x)
//   x += down_proj(act(gate_proj(h)) * up_proj(h)),  h = post_attention_layernorm(x)
// (q/k/v with bias, o/gate/up/down without, GQA, causal; act = `hidden_act`, SiLU in every
// release), then the final `model.norm`.
//
// Every weight is the tensor the checkpoint store hands out: on the CPU in the checkpoint's dtype
// that is a view of the mapped file, so loading copies nothing. q/k/v and gate/up are separate
// matmuls rather than fused at load: fusing would copy them (~8.5 GB of the 7B's 15.5 GB) and on
// the CPU it is no faster (tools/bench/fused_projections.py: within +-5% for prefill and decode,
// fp32 and bf16, 3B layer sizes).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "io/weight_loader.h"
#include "kernels/ops/attention_dispatch.h"
#include "models/qwen2_5_vl/activation.h"
#include "models/qwen2_5_vl/config.h"
#include "models/qwen2_5_vl/kv_cache.h"

namespace duogen::qwen2_5_vl {

struct DecoderLayer {
  at::Tensor q_weight, q_bias;     // [Hq·D, H], [Hq·D]
  at::Tensor k_weight, k_bias;     // [Hkv·D, H], [Hkv·D]
  at::Tensor v_weight, v_bias;     // [Hkv·D, H], [Hkv·D]
  at::Tensor o_weight;             // [H, Hq·D]
  at::Tensor gate_weight;          // [I, H]
  at::Tensor up_weight;            // [I, H]
  at::Tensor down_weight;          // [H, I]
  at::Tensor input_norm;           // [H]
  at::Tensor post_attention_norm;  // [H]
};

// Where TextModel::forward stores hidden states: for each token row in `rows` (indices into the
// chunk), the L + 1 entries of transformers' `output_hidden_states` — the embeddings, the output
// of layers 0 .. L-2, and the final-normed output of layer L-1 (transformers overwrites the last
// entry with `last_hidden_state`).
struct HiddenStateCapture {
  at::Tensor rows;                  // int64 [n] on the model's device
  std::vector<at::Tensor> entries;  // filled: L + 1 tensors [n, H]
};

class TextModel {
 public:
  // `model` is the view of the `model.` prefix. Shapes come from `config`.
  static TextModel load(const io::WeightView& model, const TextConfig& config);

  // ids int64 [T] -> [T, H].
  at::Tensor embed(const at::Tensor& ids) const;
  // embeds [T, H] of the chunk that follows the cache's tokens, positions int64 [3, T] (M-RoPE
  // streams). Appends the chunk's keys/values to `cache` and returns the final-normed hidden
  // states [T, H].
  at::Tensor forward(const at::Tensor& embeds,
                     const at::Tensor& positions,
                     KVCache& cache,
                     HiddenStateCapture* capture = nullptr) const;

  // M-RoPE cos and sin [T, D] for positions [3, T], computed in fp32 and cast to `dtype` as
  // transformers does.
  std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& positions,
                                                 c10::ScalarType dtype) const;

  const at::Tensor& embed_tokens() const { return embed_tokens_; }
  const TextConfig& config() const { return config_; }
  // The engine's attention dispatch (measured table, usage counts); null: the built-in order.
  void set_attention(std::shared_ptr<const ops::AttentionDispatch> dispatch) {
    attention_ = std::move(dispatch);
  }
  const std::vector<DecoderLayer>& layers() const { return layers_; }

 private:
  at::Tensor layer_forward(std::int64_t index,
                           const at::Tensor& x,
                           const at::Tensor& cos,
                           const at::Tensor& sin,
                           KVCache& cache) const;

  TextConfig config_;
  std::shared_ptr<const ops::AttentionDispatch> attention_;
  Activation activation_ = Activation::kSilu;  // config_.hidden_act
  at::Tensor embed_tokens_;                    // [V, H]
  std::vector<DecoderLayer> layers_;
  at::Tensor norm_;            // [H]
  at::Tensor inv_freq_;        // fp32 [D / 2]
  at::Tensor stream_of_freq_;  // int64 [D / 2]: which position stream (t, h, w) drives frequency f
};

}  // namespace duogen::qwen2_5_vl
