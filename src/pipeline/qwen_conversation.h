// The MLLM side of DuoGen on Qwen2.5-VL: the chat template, user images through the image
// processor and vision tower, prefill and token-by-token decoding with the KV cache, every
// layer's hidden states kept for the DiT context, and generated images appended mid-decode.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/ops/attention_dispatch.h"
#include "models/qwen2_5_vl/image_processor.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "pipeline/hidden_state_buffer.h"
#include "pipeline/interleaved.h"
#include "pipeline/manifest.h"
#include "pipeline/model_slot.h"
#include "sampling/token_sampler.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/tokenizer.h"

namespace duogen::pipeline {

struct ConversationOptions {
  c10::ScalarType dtype = c10::kFloat;
  c10::Device device = c10::kCPU;
  // Context tokens the KV cache and the kept hidden states are allocated for up front; a longer
  // conversation grows them in 256-token steps (one copy each). `duogen plan` assumes the same.
  std::int64_t context_capacity = 4096;
  // Offload mode: the language model and vision tower form the component "mllm" of this manager
  // (shared with the image model), evicted when the DiT or VAE needs the room. Null: resident.
  std::shared_ptr<runtime::ResidencyManager> residency;
  // The engine's attention dispatch for the language model and the vision tower; null: built-in.
  std::shared_ptr<const ops::AttentionDispatch> attention;
};

// The MLLM's weights, loaded and offloaded together.
struct MllmWeights {
  qwen2_5_vl::Model text;
  qwen2_5_vl::VisionTower vision;
};

class QwenConversation final : public ConversationModel {
 public:
  // Loads the tokenizer, the language model and the vision tower the manifest names. Throws
  // FormatError/WeightError naming the component for mismatched parts.
  QwenConversation(const ModelManifest& manifest, const ConversationOptions& options);

  std::int64_t start(const std::vector<Message>& messages, std::uint64_t seed) override;
  std::int64_t sample_next(const TextSampling& sampling) override;
  void force_next(std::int64_t token) override;
  std::string token_text(std::int64_t token) override;
  std::string flush_text() override;
  at::Tensor hidden_states(std::int64_t end) override;
  void append_image(const at::Tensor& rgb) override;
  const ContextMarks& marks() const override { return marks_; }
  std::int64_t length() const override { return static_cast<std::int64_t>(tokens_.size()); }
  const std::vector<at::Tensor>& user_images() const override { return user_images_; }

  // Token text or decimal id -> id (the manifest's <BOV> and end-of-vision included).
  std::optional<std::int64_t> token_id(const std::string& token) const;
  // End of turn / end of text: the config's eos ids and <|im_end|>.
  std::set<std::int64_t> stop_token_ids() const;
  // fp32 logits [1, V] for the next token (for tests: compare with a fresh prefill).
  const at::Tensor& next_logits() const { return logits_; }
  const std::vector<std::int64_t>& tokens() const { return tokens_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const qwen2_5_vl::Config& config() const { return *config_; }
  // How many times the MLLM weights were loaded (more than 1 in offload mode after evictions).
  int weight_loads() const { return mllm_.loads(); }
  // Bytes this conversation keeps between jobs: the KV cache, the kept hidden states, the next
  // logits and the user's images (for the no-growth check of long runs), and the tokens its KV
  // cache and hidden-state buffer hold (the last job's context, not a sum over jobs).
  std::int64_t retained_bytes() const;
  std::int64_t retained_tokens() const;

 private:
  // Runs a chunk after the current context, keeping its hidden states and the next logits.
  void feed(const std::vector<std::int64_t>& ids, const at::Tensor& image_embeds,
            const std::vector<qwen2_5_vl::ImageGrid>& grids);

  ModelManifest manifest_;
  ConversationOptions options_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::optional<qwen2_5_vl::Config> config_;
  ModelSlot<MllmWeights> mllm_;
  qwen2_5_vl::ImageProcessor processor_;
  tokenizer::ChatTemplate template_;

  std::optional<qwen2_5_vl::Session> session_;
  std::vector<std::int64_t> tokens_;
  HiddenStateBuffer hidden_;  // [L + 1, tokens, H]
  at::Tensor logits_;
  std::optional<sampling::TokenSampler> sampler_;
  std::uint64_t seed_ = 0;
  std::optional<tokenizer::IncrementalDecoder> decoder_;
  ContextMarks marks_;
  std::vector<at::Tensor> user_images_;
};

}  // namespace duogen::pipeline
