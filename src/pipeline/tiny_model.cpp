#include "pipeline/tiny_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "io/weight_loader.h"
#include "models/cosmos_dit/dit.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "models/wan_vae/vae.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Qwen2.5-VL's real vocabulary size (3B), so the real tokenizer's ids and <BOV> (151665) fit.
constexpr std::int64_t kVocab = 151936;
constexpr std::int64_t kTextHidden = 64;
constexpr std::int64_t kTextLayers = 2;

json qwen_config() {
  return {
      {"architectures", {"Qwen2_5_VLForConditionalGeneration"}},
      {"model_type", "qwen2_5_vl"},
      {"dtype", "bfloat16"},
      {"tie_word_embeddings", true},
      {"image_token_id", 151655},
      {"video_token_id", 151656},
      {"vision_start_token_id", 151652},
      {"vision_end_token_id", 151653},
      {"text_config",
       {{"model_type", "qwen2_5_vl_text"},
        {"vocab_size", kVocab},
        {"hidden_size", kTextHidden},
        {"intermediate_size", 128},
        {"num_hidden_layers", kTextLayers},
        {"num_attention_heads", 4},
        {"num_key_value_heads", 2},
        {"max_position_embeddings", 32768},
        {"rms_norm_eps", 1e-6},
        {"hidden_act", "silu"},
        {"bos_token_id", 151643},
        {"eos_token_id", 151645},
        {"rope_parameters",
         {{"rope_type", "default"}, {"rope_theta", 1000000.0}, {"mrope_section", {2, 3, 3}}}}}},
      {"vision_config",
       {{"model_type", "qwen2_5_vl_vision"},
        {"depth", 2},
        {"fullatt_block_indexes", {1}},
        {"hidden_size", 32},
        {"intermediate_size", 64},
        {"num_heads", 2},
        {"out_hidden_size", kTextHidden},
        {"patch_size", 14},
        {"spatial_merge_size", 2},
        {"temporal_patch_size", 2},
        {"window_size", 112},
        {"hidden_act", "silu"},
        {"in_channels", 3}}}};
}

json dit_config() {
  // The connector reads every decoder layer's output (the embedding entry is dropped, as for
  // the real 28 x 3584 = 100352 channels): 2 x 64 = 128.
  return {{"_class_name", "CosmosTransformer3DModel"},
          {"in_channels", 17},
          {"out_channels", 16},
          {"num_attention_heads", 2},
          {"attention_head_dim", 16},
          {"num_layers", 2},
          {"mlp_ratio", 4.0},
          {"text_embed_dim", 32},
          {"adaln_lora_dim", 8},
          {"max_size", {128, 240, 240}},
          {"patch_size", {1, 2, 2}},
          {"rope_scale", {1.0, 3.0, 3.0}},
          {"concat_padding_mask", true},
          {"extra_pos_embed_type", nullptr},
          {"use_crossattn_projection", true},
          {"crossattn_proj_in_channels", kTextLayers * kTextHidden},
          {"encoder_hidden_states_channels", 32}};
}

json vae_config() {
  // Wan2.1's latent statistics (they are part of the model, not of the weights).
  return {{"_class_name", "AutoencoderKLWan"},
          {"base_dim", 4},
          {"z_dim", 16},
          {"dim_mult", {1, 2, 4, 4}},
          {"num_res_blocks", 1},
          {"attn_scales", json::array()},
          {"temperal_downsample", {false, true, true}},
          {"dropout", 0.0},
          {"latents_mean", {-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                            0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921}},
          {"latents_std", {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687,
                           2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916}}};
}

// Norm scales near 1, biases near 0, matrices scaled by 1/sqrt(fan_in) so activations keep
// their size through the layers and the random network gives finite, varied outputs.
io::WeightInitializer initializer(at::Generator& gen) {
  return [&gen](const std::string& name, c10::IntArrayRef shape) {
    at::Tensor noise = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
    // A vector (all dimensions but the first are 1): a norm scale or a bias.
    const bool vector_like = shape.empty() || noise.numel() == shape[0];
    const bool is_scale = name.find("norm") != std::string::npos || name.ends_with("gamma") ||
                          name.ends_with("ln_q.weight");
    if (vector_like && is_scale) return 1.0 + 0.1 * noise;
    if (vector_like) return 0.02 * noise;
    const std::int64_t fan_in = noise.numel() / shape[0];
    return noise / std::sqrt(static_cast<double>(fan_in));
  };
}

void write_json(const fs::path& path, const json& value) {
  io::write_file_atomically(path, value.dump(2) + "\n");
}

void write_weights(const fs::path& path, const io::WeightStore& store,
                   std::optional<c10::ScalarType> dtype) {
  io::NamedTensors tensors;
  for (const auto& [name, t] : store.materialized()) {
    tensors.emplace_back(name, dtype ? t.to(*dtype) : t);
  }
  io::write_safetensors(path, tensors);
}

void copy_tokenizer(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  DUOGEN_CHECK(fs::is_regular_file(from / "tokenizer.json", ec), IoError,
               "{}: no tokenizer.json (give --tokenizer DIR with the Qwen tokenizer files)",
               from.string());
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"}) {
    if (!fs::exists(from / file, ec)) continue;
    fs::copy_file(from / file, to / file, ec);
    DUOGEN_CHECK(!ec, IoError, "cannot copy {} to {}: {}", (from / file).string(), to.string(),
                 ec.message());
  }
}

void write_components(const fs::path& dir, const TinyModelOptions& options) {
  c10::InferenceMode guard;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);

  // MLLM: language model and vision tower on one store, saved in bf16 like the hub's files.
  fs::create_directories(dir / "mllm");
  write_json(dir / "mllm" / "config.json", qwen_config());
  copy_tokenizer(options.tokenizer_dir, dir / "mllm");
  {
    const auto config = qwen2_5_vl::Config::from_directory(dir / "mllm");
    auto store = io::WeightStore::materializing(initializer(gen));
    qwen2_5_vl::Model::from_weights(config, {}, store);
    qwen2_5_vl::VisionTower vision(config.vision, store.root().sub("visual"));
    store.finish("tiny Qwen2.5-VL");
    write_weights(dir / "mllm" / "model.safetensors", store, at::kBFloat16);
  }
  // DiT with its connector.
  fs::create_directories(dir / "dit");
  write_json(dir / "dit" / "config.json", dit_config());
  {
    auto config = cosmos_dit::Config::from_directory(dir / "dit");
    auto store = io::WeightStore::materializing(initializer(gen));
    cosmos_dit::CosmosDiT::from_weights(config, {}, store);
    write_weights(dir / "dit" / "model.safetensors", store, std::nullopt);
  }
  // VAE.
  fs::create_directories(dir / "vae");
  write_json(dir / "vae" / "config.json", vae_config());
  {
    auto config = wan_vae::Config::from_directory(dir / "vae");
    auto store = io::WeightStore::materializing(initializer(gen));
    wan_vae::WanVAE::from_weights(config, {}, store, wan_vae::Layout::kDiffusers);
    write_weights(dir / "vae" / "model.safetensors", store, std::nullopt);
  }
  write_json(dir / "duogen.json",
             {{"format", "duogen-model-v1"},
              {"mllm", "mllm"},
              {"dit", "dit"},
              {"vae", "vae"},
              {"bov_token", "<BOV>"},
              {"bov_token_id", 151665},
              {"eov_token", "<|vision_end|>"},
              {"eov_token_id", 151653},
              {"noise", "numpy"},
              {"defaults", {{"steps", 8}, {"width", 256}, {"height", 256}, {"max_new_tokens", 64}}}});
}

}  // namespace
}  // namespace duogen::pipeline

namespace duogen {

namespace fs = std::filesystem;
using pipeline::write_components;

void write_tiny_model(const fs::path& out, const TinyModelOptions& options) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    DUOGEN_CHECK(options.overwrite, InvalidArgument,
                 "{} already exists (pass --overwrite to replace it)", out.string());
  }
  const fs::path parent = fs::absolute(out).parent_path();
  fs::create_directories(parent, ec);
  const fs::path staging =
      parent / fmt::format(".{}.partial-{}", out.filename().string(), static_cast<long>(::getpid()));
  fs::remove_all(staging, ec);
  try {
    write_components(staging, options);
    fs::remove_all(out, ec);
    fs::rename(staging, out, ec);
    DUOGEN_CHECK(!ec, IoError, "cannot move the tiny model into {}: {}", out.string(),
                 ec.message());
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace duogen
