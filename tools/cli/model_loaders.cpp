// The concrete models behind `duogen bench` and `duogen judge`: Qwen2.5-VL for the conversation,
// the DuoGen image model (connector + DiT + sampler + VAE) for images.
#include "model_loaders.h"

#include <spdlog/spdlog.h>

#include "pipeline/duogen_image_model.h"
#include "pipeline/qwen_conversation.h"

namespace duogen::cli {
namespace {

LoadedModels load_conversation(const pipeline::ModelManifest& manifest,
                               const DevicePlacement& placement) {
  LoadedModels models;
  spdlog::info("loading the MLLM from {} ({}, {})", manifest.mllm.string(), placement.device.str(),
               c10::toString(placement.dtype));
  auto mllm = std::make_unique<pipeline::QwenConversation>(
      manifest, pipeline::ConversationOptions{placement.dtype, placement.device,
                                        pipeline::ConversationOptions{}.context_capacity, nullptr,
                                        nullptr});
  const pipeline::QwenConversation* raw = mllm.get();
  models.lookup = [raw](const std::string& token) { return raw->token_id(token); };
  models.stop_token_ids = mllm->stop_token_ids();
  models.mllm = std::move(mllm);
  return models;
}

}  // namespace

LoadedModels load_bench_models(const pipeline::ModelManifest& manifest,
                               const DevicePlacement& placement) {
  LoadedModels models = load_conversation(manifest, placement);
  spdlog::info("loading the DiT from {} and the VAE from {}", manifest.dit.string(),
               manifest.vae.string());
  auto images =
      std::make_unique<pipeline::DuoGenImageModel>(
      manifest, pipeline::ImageModelOptions{placement.dtype, placement.device, nullptr, nullptr});
  const auto& text = static_cast<const pipeline::QwenConversation&>(*models.mllm).config().text;
  images->check_context_width(text.num_hidden_layers, text.hidden_size, manifest.mllm);
  models.images = std::move(images);
  return models;
}

LoadedModels load_judge_model(const std::filesystem::path& mllm_dir,
                              const DevicePlacement& placement) {
  pipeline::ModelManifest manifest;
  manifest.mllm = mllm_dir;
  manifest.tokenizer = mllm_dir;
  return load_conversation(manifest, placement);
}

}  // namespace duogen::cli
