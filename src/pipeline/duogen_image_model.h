// The image side of DuoGen: MLLM hidden states -> connector -> Cosmos DiT sampled with flow
// matching and CFG, conditioned on every earlier image as a clean packed frame -> Wan VAE.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "models/cosmos_dit/dit.h"
#include "models/wan_vae/vae.h"
#include "pipeline/interleaved.h"
#include "pipeline/manifest.h"

namespace duogen::pipeline {

struct ImageModelOptions {
  c10::ScalarType dtype = c10::kFloat;  // DiT and VAE compute dtype
  c10::Device device = c10::kCPU;
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

  const cosmos_dit::CosmosDiT& dit() const { return dit_; }
  const wan_vae::WanVAE& vae() const { return vae_; }

 private:
  // The clean latent of a condition image, encoded once per image tensor (the loop passes the
  // same tensors again for every later image of a conversation).
  at::Tensor condition_latent(const at::Tensor& rgb, double& encode_seconds);

  ModelManifest manifest_;
  ImageModelOptions options_;
  cosmos_dit::CosmosDiT dit_;
  wan_vae::WanVAE vae_;
  std::vector<std::pair<at::Tensor, at::Tensor>> latent_cache_;  // image -> latent
};

}  // namespace duogen::pipeline
