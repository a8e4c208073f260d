// The Cosmos-Predict2.5 DiT (architecture.md §8, §9): velocity prediction for a dense latent
// video [B, C, T, H, W] (Cosmos' own form) or for DuoGen's packed sequence of frames of different
// sizes (condition images + the target).
//
// Follows diffusers 0.42.1 `CosmosTransformer3DModel.forward` and the original
// `MinimalV1LVGDiT`, with the original's precision policy (§8.8): timestep embedding, every adaLN
// modulation and the final layer run in fp32; the rest in the network dtype; the velocity is fp32.
//
//   auto dit = cosmos_dit::CosmosDiT::load("checkpoints/cosmos_dit", {});
//   auto ctx = dit.prepare_context_from_hidden_states(all_layers);  // once per prompt / CFG branch
//   at::Tensor v = dit.velocity(x_t, sigma, ctx, condition_mask);    // every sampling step
//
// Timesteps are on the model scale, exactly diffusers' `timestep` argument: the flow-matching
// sigma in [0, 1]. (The original network receives timestep_scale 0.001 times a 0..1000 value,
// the same thing; any int truncation of that value is the sampler's business, §8.9.)
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "models/cosmos_dit/block.h"
#include "models/cosmos_dit/config.h"
#include "models/cosmos_dit/connector.h"
#include "models/cosmos_dit/weights.h"

namespace duogen::cosmos_dit {

class TimeEmbedding;
class Rope3D;

struct DitOptions {
  c10::ScalarType dtype = c10::kFloat;  // network dtype (kFloat or kBFloat16)
  c10::Device device = c10::kCPU;
  // Connector weights shipped separately (a DuoGen release's own connector, diffusers names such
  // as `crossattn_proj.0.weight`); empty: they are in the DiT checkpoint.
  std::filesystem::path connector;
  // The engine's attention dispatch; null: the built-in order (kernels/ops/attention_dispatch.h).
  std::shared_ptr<const ops::AttentionDispatch> attention;
};

// A prepared cross-attention context: the connector output and every block's k/v. Reusable
// across sampling steps (and across calls with any latent batch, when its batch is 1).
struct DitContext {
  at::Tensor context;              // [Bc, L, text_embed_dim], network dtype
  std::vector<ContextKV> blocks;   // one per transformer block
};

// Contexts of possibly different lengths (each prepared with batch 1) as one context for a latent
// batch of parts.size(): row b attends to parts[b] (varlen cross-attention, see ContextKV). Used to
// run both CFG branches in one call; `context` (the connector output) is left undefined. Throws
// InvalidArgument for an empty list, a part with batch != 1, or parts from different networks.
DitContext stack_contexts(const std::vector<const DitContext*>& parts);

// One frame of a packed call. Frames are given in conversation order; the last is the target.
struct PackedFrame {
  at::Tensor latent;    // [B, C, h, w] or [B, C, 1, h, w]; h, w multiples of the patch
  at::Tensor timestep;  // model-scale timestep: a scalar, [1] or [B]
  bool condition = false;  // value of the condition-mask channel (1 = clean condition latent)
};

class CosmosDiT {
 public:
  // `model`: a directory (config.json + safetensors, diffusers or original layout) or a
  // .safetensors file (config.json beside it, else the 2B defaults). Throws FormatError for a bad
  // config or an unrecognised layout, WeightError listing every missing, mis-shaped or unknown
  // tensor.
  static CosmosDiT load(const std::filesystem::path& model, const DitOptions& options);
  // The network on weights from `store` (names in `layout`, canonical = diffusers); load() uses
  // it with a checkpoint, `duogen init-tiny` with a materialising store.
  static CosmosDiT from_weights(Config config, const DitOptions& options, io::WeightStore& store,
                                Layout layout = Layout::kDiffusers);
  CosmosDiT(CosmosDiT&&) noexcept;
  CosmosDiT& operator=(CosmosDiT&&) noexcept;
  ~CosmosDiT();

  // context: the connector input, [L, in] or [Bc, L, in] with in = connector().in_channels()
  // (100352 for the 2B; diffusers' `encoder_hidden_states`). Throws InvalidArgument on a width
  // mismatch.
  DitContext prepare_context(const at::Tensor& context) const;
  // hidden_states_all_layers: [E, L, H] or [Bc, E, L, H] (see concat_normalized_layers).
  DitContext prepare_context_from_hidden_states(const at::Tensor& hidden_states_all_layers) const;

  // Dense form. x [B, C, T, H, W] (C = latent channels); timesteps: scalar, [1], [B], [B, T] or
  // diffusers' [B, 1, T, 1, 1]; condition_mask [B or 1, 1, T, H, W] (zeros when undefined; only
  // for networks with that channel); padding_mask [B or 1, 1, h, w] at any resolution, nearest-
  // resized to (H, W) (zeros when undefined). Returns the velocity [B, C, T, H, W] fp32.
  at::Tensor velocity(const at::Tensor& x, const at::Tensor& timesteps, const DitContext& context,
                      const at::Tensor& condition_mask = {},
                      const at::Tensor& padding_mask = {}) const;

  // Packed form (§9.2): frame f gets RoPE positions (t = f, its own h x w grid), its own timestep
  // and condition-mask value, padding channel 0; self-attention spans all frames' tokens. Returns
  // the target (last) frame's velocity, fp32, in the target latent's rank.
  at::Tensor velocity_packed(const std::vector<PackedFrame>& frames,
                             const DitContext& context) const;

  const Config& config() const { return config_; }
  const DitOptions& options() const { return options_; }
  Layout layout() const { return layout_; }
  const Connector& connector() const { return *connector_; }

 private:
  CosmosDiT(Config config, DitOptions options);
  // Patch features [B, N, patch_in_features] of frames laid out as `frame_tokens`, timesteps
  // [B, F]: runs the trunk and the final layer on frames [first_out, F). Returns tokens
  // [B, N_out, patch_out_features] fp32.
  at::Tensor run(const at::Tensor& features, const at::Tensor& timesteps,
                 const std::vector<std::int64_t>& frame_tokens, const RopeTables& rope,
                 const DitContext& context, std::size_t first_out) const;

  Config config_;
  DitOptions options_;
  Layout layout_ = Layout::kDiffusers;
  std::unique_ptr<Connector> connector_;
  std::unique_ptr<TimeEmbedding> time_embed_;
  std::unique_ptr<Rope3D> rope_;
  std::vector<Block> blocks_;
  std::unique_ptr<AdaLNModulation> norm_out_;
  at::Tensor patch_embed_;  // [D, patch_in_features], network dtype
  at::Tensor proj_out_;     // [patch_out_features, D], fp32
};

}  // namespace duogen::cosmos_dit
