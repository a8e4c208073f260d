// Peak activation estimates: the temporaries alive at once inside one component's forward pass.
//
// Estimates, not measurements: each function states its formula (in activations.cpp, next to the
// code) in terms of the config and the run's sizes. They count the tensors the engine's forward
// passes hold at their widest point; allocator slack and library workspaces (cuBLAS, cuDNN) are
// not included. b = bytes per element of the compute dtype; fp32 terms are written as 4.
//
// Attention on a GPU runs flash kernels that never hold the S x S score matrix. The CPU reference
// path (kernels/reference/attention.cpp: at::scaled_dot_product_attention with an explicit mask
// and K/V repeated for GQA) does, so with `cpu_attention` the S x S scores (fp32) and the repeated
// K/V are added.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace duogen::qwen2_5_vl {
struct TextConfig;
struct VisionConfig;
}  // namespace duogen::qwen2_5_vl
namespace duogen::cosmos_dit {
struct Config;
}
namespace duogen::wan_vae {
struct Config;
}

namespace duogen::runtime {

struct ImageSize {
  std::int64_t width = 0;
  std::int64_t height = 0;
};

struct AttentionPath {
  bool cpu_attention = false;  // add the S x S terms of the CPU reference SDPA
};

// MLLM prefill of `tokens` tokens in one chunk (plus the fp32 logits of the last token).
std::uint64_t mllm_prefill_bytes(const qwen2_5_vl::TextConfig& config,
                                 std::int64_t tokens,
                                 std::int64_t dtype_bytes,
                                 AttentionPath path);

// The MLLM's image size for a picture of `size`: scaled so the longer side is <= max_side (0: no
// cap), then each side rounded to a multiple of 28 (patch 14 x merge 2), at least 28.
ImageSize mllm_image_size(ImageSize size, std::int64_t max_side);

// Vision tower on one image of `size` pixels (already a multiple of 28 per side).
std::uint64_t vit_bytes(const qwen2_5_vl::VisionConfig& config,
                        ImageSize size,
                        std::int64_t dtype_bytes,
                        AttentionPath path);

// DiT tokens of one frame: (h/8/2) * (w/8/2) = (h/16) * (w/16), sides rounded up to 16 px.
std::int64_t dit_frame_tokens(const cosmos_dit::Config& config, ImageSize size);

// One DiT step over the packed frames (condition frames + target), `branches` CFG branches in one
// batched call, against a cross-attention context of `context_tokens`.
std::uint64_t dit_step_bytes(const cosmos_dit::Config& config,
                             const std::vector<ImageSize>& frames,
                             std::int64_t context_tokens,
                             std::int64_t branches,
                             std::int64_t dtype_bytes,
                             AttentionPath path);

// The connector pass: all-layer hidden states [L, layers * hidden] normalised and concatenated,
// projected to [L, text_embed_dim], for each CFG branch.
std::uint64_t connector_bytes(const cosmos_dit::Config& config,
                              std::int64_t context_tokens,
                              std::int64_t mllm_layers,
                              std::int64_t mllm_hidden,
                              std::int64_t branches,
                              std::int64_t dtype_bytes);

// Per-image cross-attention cache the DiT keeps for all steps: the connector output and every
// block's context k and v, for each branch.
std::uint64_t dit_context_cache_bytes(const cosmos_dit::Config& config,
                                      std::int64_t context_tokens,
                                      std::int64_t branches,
                                      std::int64_t dtype_bytes);

// VAE decode of one image (the 2D single-image path) and encode of one condition frame.
std::uint64_t vae_decode_bytes(const wan_vae::Config& config,
                               ImageSize size,
                               std::int64_t dtype_bytes,
                               AttentionPath path);
std::uint64_t vae_encode_bytes(const wan_vae::Config& config,
                               ImageSize size,
                               std::int64_t dtype_bytes,
                               AttentionPath path);

// Cosmos-Predict2.5 text conditioning (pipeline/cosmos/prompt_encoder.h): the language model
// over one prompt padded to `tokens` tokens, no logits, every layer's hidden state captured,
// stacked, normalised in fp32 and concatenated to [tokens, layers * hidden] in the model dtype.
// The KV cache the pass fills is counted separately (text_encoder_kv_cache_bytes).
std::uint64_t text_encoder_pass_bytes(const qwen2_5_vl::TextConfig& config,
                                      std::int64_t tokens,
                                      std::int64_t dtype_bytes,
                                      AttentionPath path);

// The KV cache of one text encoder pass over `tokens` tokens (preallocated in chunks of
// `grow_chunk` tokens, qwen2_5_vl::KVCacheOptions).
std::uint64_t text_encoder_kv_cache_bytes(const qwen2_5_vl::TextConfig& config,
                                          std::int64_t tokens,
                                          std::int64_t dtype_bytes,
                                          std::int64_t grow_chunk = 256);

// The DiT's 3D RoPE tables for `tokens` tokens (rebuilt at every call, alive through it).
std::uint64_t dit_rope_table_bytes(const cosmos_dit::Config& config, std::int64_t tokens);

// Video decode (T' > 1 latent frames), run one latent frame at a time with the causal feature
// cache. Latent size h x w = size / 8.
//   vae_feature_cache_bytes: the cache, alive for the whole decode of one region;
//   vae_decode_chunk_bytes: the temporaries of the widest chunk (any latent frame after the
//     first, which the temporal upsamplers turn into scale_factor_temporal frames), the cache
//     and the frames decoded before excluded.
std::uint64_t vae_feature_cache_bytes(const wan_vae::Config& config,
                                      ImageSize size,
                                      std::int64_t dtype_bytes);
std::uint64_t vae_decode_chunk_bytes(const wan_vae::Config& config,
                                     ImageSize size,
                                     std::int64_t dtype_bytes,
                                     AttentionPath path);

}  // namespace duogen::runtime
