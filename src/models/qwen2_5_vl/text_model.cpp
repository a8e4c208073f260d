#include "models/qwen2_5_vl/text_model.h"

#include <ATen/ATen.h>

#include <string>

#include "core/check.h"
#include "kernels/ops/add_rms_norm.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/rms_norm.h"

namespace duogen::qwen2_5_vl {
namespace {

// transformers' rotate_half: [x1, x2] -> [-x2, x1] over the last dimension.
at::Tensor rotate_half(const at::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// x [T, heads, D], cos/sin [T, 1, D]; in x's dtype, like transformers' apply_rotary_pos_emb.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

}  // namespace

TextModel TextModel::load(const io::WeightView& model, const TextConfig& config) {
  TextModel m;
  m.config_ = config;
  const auto activation = activation_from_name(config.hidden_act);
  DUOGEN_CHECK(activation.has_value(), InvalidArgument, "text model: hidden_act '{}': {}",
               config.hidden_act, activation_refusal(config.hidden_act));
  m.activation_ = *activation;
  const std::int64_t h = config.hidden_size, d = config.head_dim();
  const std::int64_t q_dim = config.num_attention_heads * d;
  const std::int64_t kv_dim = config.num_key_value_heads * d;
  const std::int64_t inter = config.intermediate_size;
  m.embed_tokens_ = model.get("embed_tokens.weight", {config.vocab_size, h});
  m.norm_ = model.get("norm.weight", {h});
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const auto layer = model.sub("layers." + std::to_string(i));
    const auto attn = layer.sub("self_attn");
    const auto mlp = layer.sub("mlp");
    DecoderLayer l;
    l.q_weight = attn.get("q_proj.weight", {q_dim, h});
    l.q_bias = attn.get("q_proj.bias", {q_dim});
    l.k_weight = attn.get("k_proj.weight", {kv_dim, h});
    l.k_bias = attn.get("k_proj.bias", {kv_dim});
    l.v_weight = attn.get("v_proj.weight", {kv_dim, h});
    l.v_bias = attn.get("v_proj.bias", {kv_dim});
    l.o_weight = attn.get("o_proj.weight", {h, q_dim});
    l.gate_weight = mlp.get("gate_proj.weight", {inter, h});
    l.up_weight = mlp.get("up_proj.weight", {inter, h});
    l.down_weight = mlp.get("down_proj.weight", {h, inter});
    l.input_norm = layer.sub("input_layernorm").get("weight", {h});
    l.post_attention_norm = layer.sub("post_attention_layernorm").get("weight", {h});
    m.layers_.push_back(std::move(l));
  }
  // inv_freq_f = theta^(-2f/D), computed in fp32 exactly as transformers'
  // compute_default_rope_parameters does (1 / theta ** (arange(0, D, 2) / D)).
  const c10::Device device = m.norm_.defined() ? m.norm_.device() : c10::Device(c10::kCPU);
  const at::Tensor exponent = at::arange(0, d, 2, at::kFloat) / static_cast<double>(d);
  m.inv_freq_ = (1.0 / at::pow(config.rope_theta, exponent)).to(device);
  // mrope_section [s_t, s_h, s_w] splits the D/2 frequencies into consecutive t, h, w ranges.
  std::vector<std::int64_t> stream;
  for (std::size_t s = 0; s < config.mrope_section.size(); ++s) {
    stream.insert(stream.end(), config.mrope_section[s], static_cast<std::int64_t>(s % 3));
  }
  m.stream_of_freq_ = at::tensor(stream, at::kLong).to(device);
  return m;
}

at::Tensor TextModel::embed(const at::Tensor& ids) const {
  return at::embedding(embed_tokens_, ids);
}

std::pair<at::Tensor, at::Tensor> TextModel::rope_cos_sin(const at::Tensor& positions,
                                                          c10::ScalarType dtype) const {
  // [3, T, D/2]: every stream's angles, then each frequency picks its stream.
  const at::Tensor freqs = positions.to(inv_freq_.device(), at::kFloat).unsqueeze(-1) * inv_freq_;
  const std::int64_t t = positions.size(1);
  const at::Tensor index = stream_of_freq_.view({1, 1, -1}).expand({1, t, -1});
  const at::Tensor picked = freqs.gather(0, index).squeeze(0);  // [T, D/2]
  const at::Tensor cos = picked.cos(), sin = picked.sin();
  return {at::cat({cos, cos}, -1).to(dtype), at::cat({sin, sin}, -1).to(dtype)};
}

at::Tensor TextModel::layer_forward(std::int64_t index,
                                    const at::Tensor& x,
                                    const at::Tensor& cos,
                                    const at::Tensor& sin,
                                    KVCache& cache) const {
  const DecoderLayer& l = layers_[index];
  const std::int64_t t = x.size(0), d = config_.head_dim();
  const std::int64_t hq = config_.num_attention_heads, hkv = config_.num_key_value_heads;
  const double eps = config_.rms_norm_eps;

  const at::Tensor n = ops::rms_norm(x, l.input_norm, eps);
  // [T, H] -> [T, heads, D]
  const at::Tensor q = apply_rope(at::linear(n, l.q_weight, l.q_bias).view({t, hq, d}), cos, sin);
  const at::Tensor k = apply_rope(at::linear(n, l.k_weight, l.k_bias).view({t, hkv, d}), cos, sin);
  const at::Tensor v = at::linear(n, l.v_weight, l.v_bias).view({t, hkv, d});
  // [T, heads, D] -> [1, heads, T, D]
  const auto [keys, values] =
      cache.write(index, k.transpose(0, 1).unsqueeze(0), v.transpose(0, 1).unsqueeze(0));
  ops::AttentionOptions options;
  options.causal = true;  // bottom-right aligned: the chunk's queries follow the cached keys
  options.dispatch = attention_.get();
  options.site = t == 1                      ? ops::AttentionSite::kLlmDecode
                 : keys.size(2) > t ? ops::AttentionSite::kLlmPrefillCached
                                             : ops::AttentionSite::kLlmPrefill;
  const at::Tensor attn = ops::attention(q.transpose(0, 1).unsqueeze(0), keys, values, options);
  // [1, Hq, T, D] -> [T, Hq D]; the residual add and the post-attention norm fused.
  const auto [m, h] = ops::add_rms_norm(
      at::linear(attn.squeeze(0).transpose(0, 1).reshape({t, hq * d}), l.o_weight), x,
      l.post_attention_norm, eps);
  const at::Tensor act =
      gated_mlp(activation_, at::linear(m, l.gate_weight), at::linear(m, l.up_weight));
  return h + at::linear(act, l.down_weight);
}

at::Tensor TextModel::forward(const at::Tensor& embeds,
                              const at::Tensor& positions,
                              KVCache& cache,
                              HiddenStateCapture* capture) const {
  const std::int64_t t = embeds.size(0);
  DUOGEN_CHECK(embeds.dim() == 2 && embeds.size(1) == config_.hidden_size, InvalidArgument,
               "text model: embeddings must be [T, {}], got {}", config_.hidden_size,
               embeds.sizes());
  DUOGEN_CHECK(positions.dim() == 2 && positions.size(0) == 3 && positions.size(1) == t,
               InvalidArgument, "text model: positions must be [3, {}], got {}", t,
               positions.sizes());
  DUOGEN_CHECK(cache.num_layers() == config_.num_hidden_layers, InvalidArgument,
               "text model: the KV cache has {} layers, the model {}", cache.num_layers(),
               config_.num_hidden_layers);
  cache.reserve(cache.length() + t);
  const auto [cos_full, sin_full] = rope_cos_sin(positions, embeds.scalar_type());
  const at::Tensor cos = cos_full.unsqueeze(1), sin = sin_full.unsqueeze(1);  // [T, 1, D]

  const std::int64_t num_layers = config_.num_hidden_layers;
  if (capture != nullptr) {
    capture->entries.clear();
    capture->entries.push_back(embeds.index_select(0, capture->rows));
  }
  at::Tensor x = embeds;
  for (std::int64_t i = 0; i < num_layers; ++i) {
    x = layer_forward(i, x, cos, sin, cache);
    if (capture != nullptr && i + 1 < num_layers) {
      capture->entries.push_back(x.index_select(0, capture->rows));
    }
  }
  x = ops::rms_norm(x, norm_, config_.rms_norm_eps);
  if (capture != nullptr) capture->entries.push_back(x.index_select(0, capture->rows));
  cache.commit(t);
  return x;
}

}  // namespace duogen::qwen2_5_vl
