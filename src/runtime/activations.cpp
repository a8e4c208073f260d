#include "runtime/activations.h"

#include <algorithm>
#include <cmath>

#include "models/cosmos_dit/config.h"
#include "models/qwen2_5_vl/config.h"
#include "models/wan_vae/config.h"

namespace duogen::runtime {
namespace {

using u64 = std::uint64_t;
constexpr u64 kF32 = 4;

u64 u(std::int64_t v) { return static_cast<u64>(std::max<std::int64_t>(v, 0)); }

std::int64_t ceil_to(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

// A residual block (RMS_norm, SiLU, conv, RMS_norm, SiLU, conv, + shortcut) on P pixels:
//   P * (C_in * b                 the block input, alive until the residual add
//        + 2 * C * 4              RMS_norm computed in fp32: upcast copy and normalised result
//        + 2 * C * b)             SiLU output and conv output (or shortcut output) together
// with C = max(C_in, C_out).
u64 vae_res_block(std::int64_t c_in, std::int64_t c_out, std::int64_t pixels, u64 b) {
  const u64 c = u(std::max(c_in, c_out));
  return u(pixels) * (u(c_in) * b + 2 * c * kF32 + 2 * c * b);
}

// The middle block's single-head attention over the S latent pixels at width C:
//   S * (C * b input + 3C * b qkv + C * b output)  [+ S^2 * 4 fp32 scores on the CPU path]
u64 vae_mid_attention(std::int64_t c, std::int64_t pixels, u64 b, AttentionPath path) {
  u64 bytes = u(pixels) * u(c) * b * 5;
  if (path.cpu_attention) bytes += u(pixels) * u(pixels) * kF32;
  return bytes;
}

}  // namespace

// MLLM prefill of N tokens, hidden H, q heads n_q, kv heads n_kv, head dim d, MLP width I, vocab V:
//   residual stream + its RMSNorm:         2 * N * H * b
//   + max(attention phase, MLP phase) of one layer (the layers run one after another):
//       attention: qkv N*(n_q + 2 n_kv)*d*b + rotated q, k N*(n_q + n_kv)*d*b
//                  + attention output N*n_q*d*b + o_proj output N*H*b
//                  [CPU: + n_q*N*N*4 fp32 scores + 2*N*n_q*d*b K/V repeated for GQA]
//       MLP:       gate_up 2*I*N*b + activation I*N*b + down output N*H*b
//   + logits of one token in fp32:          V * 4
// The KV cache and the all-layer hidden states are persistent and counted separately.
std::uint64_t mllm_prefill_bytes(const qwen2_5_vl::TextConfig& config,
                                 std::int64_t tokens,
                                 std::int64_t dtype_bytes,
                                 AttentionPath path) {
  const u64 b = u(dtype_bytes);
  const u64 n = u(tokens);
  const u64 h = u(config.hidden_size);
  const u64 d = u(config.head_dim());
  const u64 nq = u(config.num_attention_heads);
  const u64 nkv = u(config.num_key_value_heads);
  const u64 inter = u(config.intermediate_size);
  u64 attention = n * (nq + 2 * nkv) * d * b + n * (nq + nkv) * d * b + n * nq * d * b + n * h * b;
  if (path.cpu_attention) attention += nq * n * n * kF32 + 2 * n * nq * d * b;
  const u64 mlp = 2 * inter * n * b + inter * n * b + n * h * b;
  return 2 * n * h * b + std::max(attention, mlp) + u(config.vocab_size) * kF32;
}

ImageSize mllm_image_size(ImageSize size, std::int64_t max_side) {
  double w = static_cast<double>(size.width);
  double h = static_cast<double>(size.height);
  const double side = std::max(w, h);
  if (max_side > 0 && side > static_cast<double>(max_side)) {
    w *= static_cast<double>(max_side) / side;
    h *= static_cast<double>(max_side) / side;
  }
  // Round to the nearest multiple of 28, at least 28 (the image processor's smart_resize).
  const auto snap = [](double v) {
    return std::max<std::int64_t>(28, static_cast<std::int64_t>(std::llround(v / 28.0)) * 28);
  };
  return {snap(w), snap(h)};
}

// Vision tower on P = (h/14)(w/14) patches, width C, heads n, head dim d = C/n, MLP width I:
//   pixel input P*1176*4 (fp32 from the processor) + its cast P*1176*b
//   + rotary cos/sin 2*P*d*4
//   + residual stream and its norm 2*P*C*b
//   + max(attention: qkv 3*P*C*b + rotated q, k 2*P*C*b + output P*C*b + projection P*C*b
//                    [CPU: + n*P*P*4 scores of the full-attention blocks, the widest],
//         MLP: gate and up 2*P*I*b + activation P*I*b + down P*C*b)
//   + merger: P/4 rows of 4C: MLP hidden (P/4)*4C*b + output (P/4)*out_hidden*b
std::uint64_t vit_bytes(const qwen2_5_vl::VisionConfig& config,
                        ImageSize size,
                        std::int64_t dtype_bytes,
                        AttentionPath path) {
  const u64 b = u(dtype_bytes);
  const u64 p = u((size.height / config.patch_size) * (size.width / config.patch_size));
  const u64 c = u(config.hidden_size);
  const u64 d = u(config.head_dim());
  const u64 inter = u(config.intermediate_size);
  const u64 patch_features =
      u(config.in_channels * config.temporal_patch_size * config.patch_size * config.patch_size);
  const u64 input = p * patch_features * (kF32 + b) + 2 * p * d * kF32 + 2 * p * c * b;
  u64 attention = 3 * p * c * b + 2 * p * c * b + p * c * b + p * c * b;
  if (path.cpu_attention) attention += u(config.num_heads) * p * p * kF32;
  const u64 mlp = 2 * p * inter * b + p * inter * b + p * c * b;
  const u64 merge = u(config.spatial_merge_size * config.spatial_merge_size);
  const u64 merger = p / merge * (merge * c) * b + p / merge * u(config.out_hidden_size) * b;
  return input + std::max({attention, mlp, merger});
}

std::int64_t dit_frame_tokens(const cosmos_dit::Config& config, ImageSize size) {
  const std::int64_t px = 8 * config.patch_size[1];  // VAE /8, then the DiT's spatial patch
  return (ceil_to(size.height, px) / px) * (ceil_to(size.width, px) / px);
}

// One DiT step over S = sum over frames of (h/16)(w/16) tokens, B CFG branches batched, width D,
// n heads, MLP width M = mlp_ratio * D, context length L:
//   residual stream x and its modulated LayerNorm     2 * B*S*D * b
//   + per-token shift/scale/gate of the branch          3 * B*S*D * b
//   + max(self-attention: q, k, v 3*B*S*D*b + q, k in fp32 for RoPE 2*B*S*D*4
//                          + attention output B*S*D*b + output projection B*S*D*b
//                          [CPU: + B*n*S*S*4 fp32 scores],
//         cross-attention: q B*S*D*b + output 2*B*S*D*b [CPU: + B*n*S*L*4],
//         MLP: layer1 B*S*M*b + GELU B*S*M*b + layer2 B*S*D*b,
//         final layer in fp32: LayerNorm + modulation 2*B*S*D*4 + output B*S*p*4)
//   + sampler state: the latents of every frame [16, h/8, w/8] in fp32, input and velocity per
//     branch plus 3 UniPC history entries: (2B + 3) * sum(16 * h/8 * w/8) * 4
// Attention is flash-style on a GPU: no S x S matrix.
std::uint64_t dit_step_bytes(const cosmos_dit::Config& config,
                             const std::vector<ImageSize>& frames,
                             std::int64_t context_tokens,
                             std::int64_t branches,
                             std::int64_t dtype_bytes,
                             AttentionPath path) {
  const u64 b = u(dtype_bytes);
  std::int64_t tokens = 0;
  std::int64_t latent_pixels = 0;
  for (const auto& f : frames) {
    tokens += dit_frame_tokens(config, f);
    latent_pixels += (ceil_to(f.height, 8) / 8) * (ceil_to(f.width, 8) / 8);
  }
  const u64 bs = u(branches) * u(tokens);
  const u64 d = u(config.hidden_size());
  const u64 m = u(config.mlp_hidden());
  const u64 heads = u(config.num_attention_heads);
  const u64 base = 2 * bs * d * b + 3 * bs * d * b;
  u64 self_attention = 3 * bs * d * b + 2 * bs * d * kF32 + 2 * bs * d * b;
  if (path.cpu_attention) self_attention += heads * bs * u(tokens) * kF32;
  u64 cross_attention = 3 * bs * d * b;
  if (path.cpu_attention) cross_attention += heads * bs * u(context_tokens) * kF32;
  const u64 mlp = 2 * bs * m * b + bs * d * b;
  const u64 final_layer = 2 * bs * d * kF32 + bs * u(config.patch_out_features()) * kF32;
  const u64 sampler = (2 * u(branches) + 3) * u(latent_pixels) * u(config.out_channels) * kF32;
  return base + std::max({self_attention, cross_attention, mlp, final_layer}) + sampler;
}

// Connector over L context tokens from an MLLM of `layers` decoder layers of width H:
//   concatenated input L * layers*H * b
//   + one layer's normalisation in fp32 (upcast and result) 2 * L*H * 4
//   + projection output before and after GELU, per branch: 2 * branches * L * E * b
// (E = the connector's output width; the negative branch is a prefix of the same rows).
std::uint64_t connector_bytes(const cosmos_dit::Config& config,
                              std::int64_t context_tokens,
                              std::int64_t mllm_layers,
                              std::int64_t mllm_hidden,
                              std::int64_t branches,
                              std::int64_t dtype_bytes) {
  const u64 b = u(dtype_bytes);
  const u64 l = u(context_tokens);
  const u64 e = u(config.use_crossattn_projection ? config.encoder_hidden_states_channels
                                                  : config.text_embed_dim);
  return l * u(mllm_layers) * u(mllm_hidden) * b + 2 * l * u(mllm_hidden) * kF32 +
         2 * u(branches) * l * e * b;
}

// Cached per image: connector output B*L*E*b + every block's context k and v 2*blocks*B*L*D*b.
std::uint64_t dit_context_cache_bytes(const cosmos_dit::Config& config,
                                      std::int64_t context_tokens,
                                      std::int64_t branches,
                                      std::int64_t dtype_bytes) {
  const u64 b = u(dtype_bytes);
  const u64 bl = u(branches) * u(context_tokens);
  return bl * u(config.context_dim()) * b +
         2 * u(config.num_layers) * bl * u(config.hidden_size()) * b;
}

// Decoder, single image (2D path). Widths C_0..C_n = decoder_dims(); stage i runs at
// P_i = (h/8 * 2^i) * (w/8 * 2^i) pixels, its first residual block reads C_i (halved after an
// upsampler), and every stage but the last ends with an upsampler over C_{i+1} channels:
//   upsampler at P pixels, C channels: input P*C*b + fp32 copy P*C*4 + nearest x2 in fp32 4P*C*4
//   (then cast 4P*C*b and a conv to C/2, smaller than the fp32 pair they replace)
//   residual blocks: vae_res_block above; middle block: two residual blocks and attention.
// The estimate is the largest of these; the output image 3*h*w*4 (fp32) is added.
std::uint64_t vae_decode_bytes(const wan_vae::Config& config,
                               ImageSize size,
                               std::int64_t dtype_bytes,
                               AttentionPath path) {
  const u64 b = u(dtype_bytes);
  const auto dims = config.decoder_dims();
  const std::int64_t lh = ceil_to(size.height, 8) / 8;
  const std::int64_t lw = ceil_to(size.width, 8) / 8;
  u64 peak = std::max(vae_res_block(dims[0], dims[0], lh * lw, b),
                      vae_mid_attention(dims[0], lh * lw, b, path));
  const std::size_t stages = dims.size() - 1;
  for (std::size_t i = 0; i < stages; ++i) {
    const std::int64_t scale = std::int64_t{1} << i;
    const std::int64_t pixels = lh * scale * lw * scale;
    const std::int64_t in = i > 0 ? dims[i] / 2 : dims[i];
    peak = std::max(peak, vae_res_block(in, dims[i + 1], pixels, b));
    if (i + 1 < stages) {
      const u64 c = u(dims[i + 1]);
      peak = std::max(peak, u(pixels) * c * (b + kF32) + 4 * u(pixels) * c * kF32);
    }
  }
  return peak + 3 * u(size.height) * u(size.width) * kF32;
}

// Encoder, single image: widths E_0..E_n = encoder_dims(); stage i runs at (h/2^i)(w/2^i) pixels,
// residual blocks E_i -> E_{i+1}, then (all but the last stage) a stride-2 downsampler whose
// zero-padded input adds (h/2^i + 1)(w/2^i + 1) * E_{i+1} * b. Plus the fp32 input image 3*h*w*4
// and the middle block's attention at h/8 x w/8.
std::uint64_t vae_encode_bytes(const wan_vae::Config& config,
                               ImageSize size,
                               std::int64_t dtype_bytes,
                               AttentionPath path) {
  const u64 b = u(dtype_bytes);
  const auto dims = config.encoder_dims();
  const std::int64_t h = ceil_to(size.height, 8);
  const std::int64_t w = ceil_to(size.width, 8);
  u64 peak = 0;
  const std::size_t stages = dims.size() - 1;
  for (std::size_t i = 0; i < stages; ++i) {
    const std::int64_t sh = h >> i;
    const std::int64_t sw = w >> i;
    peak = std::max(peak, vae_res_block(dims[i], dims[i + 1], sh * sw, b));
    if (i + 1 < stages) {
      peak = std::max(
          peak, u(sh * sw) * u(dims[i + 1]) * b + u((sh + 1) * (sw + 1)) * u(dims[i + 1]) * b);
    }
  }
  peak = std::max(peak, vae_mid_attention(dims.back(), (h / 8) * (w / 8), b, path));
  return peak + 3 * u(size.height) * u(size.width) * kF32;
}

// Text encoder pass over N tokens (hidden H, L decoder layers, vocab V):
//   max(prefill:   mllm_prefill_bytes less its fp32 logits V * 4 (LogitsMode::kNone)
//                  + the hidden states captured so far, at most (L + 1) * N*H*b,
//       stack:     the captured entries and their stacked copy 2 * (L + 1) * N*H*b,
//       normalise: the stacked states (L + 1) * N*H*b (entry 0, the embedding, is dropped)
//                  + in fp32 the upcast copy, x - mean and the normalised result 3 * L*N*H*4,
//                  then the [N, L*H] concatenation in fp32 (while the copy and the result are
//                  alive) and its cast, the embedding: (L + 1)*N*H*b + L*N*H*(3 * 4 + b))
std::uint64_t text_encoder_pass_bytes(const qwen2_5_vl::TextConfig& config,
                                      std::int64_t tokens,
                                      std::int64_t dtype_bytes,
                                      AttentionPath path) {
  const u64 b = u(dtype_bytes);
  const u64 layers = u(config.num_hidden_layers);
  const u64 nh = u(tokens) * u(config.hidden_size);
  const u64 captured = (layers + 1) * nh * b;
  const u64 prefill = mllm_prefill_bytes(config, tokens, dtype_bytes, path) -
                      u(config.vocab_size) * kF32 + captured;
  const u64 stack = 2 * captured;
  const u64 normalise = captured + layers * nh * (3 * kF32 + b);
  return std::max({prefill, stack, normalise});
}

// KV cache: layers * 2 (k, v) * kv_heads * head_dim * capacity * b, the capacity N rounded up to
// the growth chunk (KVCache::reserve).
std::uint64_t text_encoder_kv_cache_bytes(const qwen2_5_vl::TextConfig& config,
                                          std::int64_t tokens,
                                          std::int64_t dtype_bytes,
                                          std::int64_t grow_chunk) {
  const std::int64_t capacity = ceil_to(tokens, std::max<std::int64_t>(grow_chunk, 1));
  return u(config.num_hidden_layers) * 2 * u(config.num_key_value_heads) * u(config.head_dim()) *
         u(capacity) * u(dtype_bytes);
}

// cos and sin [S, head_dim] in fp32: 2 * S * d * 4.
std::uint64_t dit_rope_table_bytes(const cosmos_dit::Config& config, std::int64_t tokens) {
  return 2 * u(tokens) * u(config.attention_head_dim) * kF32;
}

// Every cached causal conv (CausalConv3d::forward with a FeatureCache, and the temporal
// upsamplers' time_conv slot) keeps the last kCacheFrames = 2 frames of its input, so with the
// widths C_0..C_n and stage pixels P_i = (h 2^i)(w 2^i) of vae_decode_bytes the cache holds
//   2 * b * ( z * P_0                                   conv_in (z = z_dim)
//            + 4 * C_0 * P_0                             the middle block's two residual blocks
//            + sum over stages i of P_i * sum over its residual blocks of (C_in + C_out)
//                                                        (conv1 reads C_in, conv2 C_out; the
//                                                        1x1x1 shortcut takes no cache)
//            + sum over the temporal upsamplers of C_{i+1} * P_i     time_conv's input
//            + C_n * P_n )                               conv_out
std::uint64_t vae_feature_cache_bytes(const wan_vae::Config& config,
                                      ImageSize size,
                                      std::int64_t dtype_bytes) {
  const u64 b = u(dtype_bytes);
  const auto dims = config.decoder_dims();
  const auto temporal = config.temperal_upsample();
  const std::int64_t lh = ceil_to(size.height, 8) / 8;
  const std::int64_t lw = ceil_to(size.width, 8) / 8;
  u64 channel_pixels = u(config.z_dim) * u(lh * lw) + 4 * u(dims[0]) * u(lh * lw);
  const std::size_t stages = dims.size() - 1;
  std::int64_t pixels = lh * lw;
  for (std::size_t i = 0; i < stages; ++i) {
    pixels = (lh << i) * (lw << i);
    std::int64_t in = i > 0 ? dims[i] / 2 : dims[i];
    const std::int64_t out = dims[i + 1];
    for (std::int64_t r = 0; r <= config.num_res_blocks; ++r) {
      channel_pixels += u(in + out) * u(pixels);
      in = out;
    }
    if (i + 1 < stages && temporal[i]) channel_pixels += u(out) * u(pixels);
  }
  channel_pixels += u(dims.back()) * u(pixels);
  return 2 * b * channel_pixels;
}

// The widest chunk: stage i runs T_i frames (T_0 = 1, doubled by each temporal upsampler) at
// P_i pixels. The estimate is the largest of
//   conv_in:          its time-padded input 3 * z * P_0 * b + output C_0 * P_0 * b
//   residual blocks:  vae_res_block over T_i * P_i pixels + the conv's input with the 2 cached
//                     frames in front (T_i + 2) * P_i * C * b, C = max(C_in, C_out)
//   middle attention: vae_mid_attention on the one latent frame
//   temporal upsampler (C = C_{i+1}): input T_i*P_i*C*b + time_conv's padded input
//                     (T_i + 2)*P_i*C*b + its output 2C * T_i*P_i*b + the interleaved copy
//                     2C * T_i*P_i*b; then the spatial x2 on its 2 T_i frames:
//   spatial upsampler on T frames: T * (P*C*(b + 4) + 4P*C*4) (vae_decode_bytes' term per frame)
// plus the chunk's output 3 * T_n * P_n * b.
std::uint64_t vae_decode_chunk_bytes(const wan_vae::Config& config,
                                     ImageSize size,
                                     std::int64_t dtype_bytes,
                                     AttentionPath path) {
  const u64 b = u(dtype_bytes);
  const auto dims = config.decoder_dims();
  const auto temporal = config.temperal_upsample();
  const std::int64_t lh = ceil_to(size.height, 8) / 8;
  const std::int64_t lw = ceil_to(size.width, 8) / 8;
  const auto res_block = [b](std::int64_t c_in, std::int64_t c_out, std::int64_t frames,
                             std::int64_t pixels) {
    return vae_res_block(c_in, c_out, frames * pixels, b) +
           u(frames + 2) * u(pixels) * u(std::max(c_in, c_out)) * b;
  };
  const std::int64_t p0 = lh * lw;
  u64 peak = 3 * u(config.z_dim) * u(p0) * b + u(dims[0]) * u(p0) * b;
  peak =
      std::max({peak, res_block(dims[0], dims[0], 1, p0), vae_mid_attention(dims[0], p0, b, path)});
  const std::size_t stages = dims.size() - 1;
  std::int64_t frames = 1;
  std::int64_t pixels = p0;
  for (std::size_t i = 0; i < stages; ++i) {
    pixels = (lh << i) * (lw << i);
    const std::int64_t in = i > 0 ? dims[i] / 2 : dims[i];
    const std::int64_t out = dims[i + 1];
    peak =
        std::max({peak, res_block(in, out, frames, pixels), res_block(out, out, frames, pixels)});
    if (i + 1 < stages) {
      const u64 tp = u(frames) * u(pixels);
      if (temporal[i]) {
        peak = std::max(peak, tp * u(out) * b + u(frames + 2) * u(pixels) * u(out) * b +
                                  2 * (2 * u(out) * tp * b));
        frames *= 2;
      }
      const u64 c = u(out);
      peak = std::max(peak, u(frames) * (u(pixels) * c * (b + kF32) + 4 * u(pixels) * c * kF32));
    }
  }
  return peak + 3 * u(frames) * u(pixels) * b;
}

}  // namespace duogen::runtime
