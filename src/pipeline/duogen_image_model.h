// The image side of DuoGen: MLLM hidden states -> connector -> Cosmos DiT sampled with flow
// matching and CFG, conditioned on every earlier image as a clean packed frame -> Wan VAE.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "kernels/ops/attention_dispatch.h"
#include "models/cosmos_dit/dit.h"
#include "models/wan_vae/vae.h"
#include "pipeline/interleaved.h"
#include "pipeline/latent_sampler.h"
#include "pipeline/manifest.h"
#include "pipeline/model_slot.h"

namespace duogen::pipeline {

struct ImageModelOptions {
  c10::ScalarType dtype = c10::kFloat;  // DiT and VAE compute dtype
  c10::Device device = c10::kCPU;
  // Offload mode: the DiT (with its connector) and the VAE become components "dit" and "vae" of
  // this manager (shared with the MLLM). Null: both stay resident.
  std::shared_ptr<runtime::ResidencyManager> residency;
  // The engine's attention dispatch for the DiT; null: the built-in order.
  std::shared_ptr<const ops::AttentionDispatch> attention;
};

class DuoGenImageModel final : public ImageModel {
 public:
  // Loads the DiT (with its connector) and the VAE the manifest names.
  DuoGenImageModel(const ModelManifest& manifest, const ImageModelOptions& options);

  at::Tensor generate(const ImageRequest& request, const ProgressFn& progress,
                      std::vector<std::pair<std::string, double>>& timings) override;

  // Throws FormatError unless the connector reads what an MLLM with `layers` decoder layers of
  // width `hidden` produces (all layers, with or without the embedding entry; §7.1).
  void check_context_width(std::int64_t layers, std::int64_t hidden,
                           const std::filesystem::path& mllm) const;

  // The networks, resident while the returned handle lives.
  ModelSlot<cosmos_dit::CosmosDiT>::Use dit() { return dit_.use(); }
  ModelSlot<wan_vae::WanVAE>::Use vae() { return vae_.use(); }
  // How many times the DiT / VAE weights were loaded (more than 1 after offload evictions).
  int dit_loads() const { return dit_.loads(); }
  int vae_loads() const { return vae_.loads(); }
  // Condition latents held for reuse within a conversation (for the no-growth test).
  std::size_t cached_condition_latents() const { return latent_cache_.size(); }
  // Bytes of the condition-latent cache (images and latents) kept between requests.
  std::int64_t retained_bytes() const;

 private:
  // The clean latent of a condition image, encoded once per image tensor (the loop passes the
  // same tensors again for every later image of a conversation).
  at::Tensor condition_latent(const at::Tensor& rgb, double& encode_seconds);
  // Noise for the request, then the CFG sampling run of the DiT (pipeline/latent_sampler.h).
  at::Tensor sample_dit(const cosmos_dit::CosmosDiT& dit, const CfgContexts& contexts,
                        const std::vector<at::Tensor>& conditions, const ImageRequest& request,
                        const ProgressFn& progress,
                        std::vector<std::pair<std::string, double>>& timings);

  ModelManifest manifest_;
  ImageModelOptions options_;
  std::optional<cosmos_dit::Config> dit_config_;
  std::int64_t connector_in_ = 0;
  std::optional<wan_vae::Config> vae_config_;
  ModelSlot<cosmos_dit::CosmosDiT> dit_;
  ModelSlot<wan_vae::WanVAE> vae_;
  std::vector<std::pair<at::Tensor, at::Tensor>> latent_cache_;  // image -> latent
};

}  // namespace duogen::pipeline
