// Cosmos-Predict2.5 text conditioning, as diffusers' `Cosmos2_5_PredictBasePipeline`
// (`_get_prompt_embeds`, `encode_prompt`) computes it:
//   1. the chat [system: kSystemPrompt, user: prompt] through the Qwen2.5-VL template without the
//      generation prompt, tokenized as one string;
//   2. truncated to max_sequence_length and padded to exactly that length with the tokenizer's
//      pad token, on the sides tokenizer_config.json names (padding_side / truncation_side,
//      transformers' default "right" for both);
//   3. the Qwen2.5-VL language model over all of it (no attention mask: the pads are ordinary
//      tokens at the end, and causal attention keeps them out of the real tokens' states);
//   4. every hidden state after the embedding (transformers' hidden_states[1:]), each normalised
//      per token (x - mean) / (std + 1e-8) with the unbiased std, concatenated along channels:
//      [1, max_sequence_length, layers * hidden].
// Statistics are taken in fp32 (diffusers takes them in the encoder's dtype; equal in fp32).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/qwen2_5_vl/model.h"
#include "tokenizer/tokenizer.h"

namespace duogen::pipeline::cosmos {

// The system turn of every Cosmos-Predict2.5 prompt (diffusers 0.42.1).
inline constexpr const char* kSystemPrompt =
    "You are a helpful assistant who will provide prompts to an image generator.";

// diffusers' DEFAULT_NEGATIVE_PROMPT of pipeline_cosmos2_5_predict.py.
extern const char* const kDefaultNegativePrompt;

// How the tokenizer pads and truncates (tokenizer_config.json).
struct PaddingConfig {
  std::int32_t pad_id = 0;
  std::string pad_token;
  bool pad_left = false;       // padding_side == "left"
  bool truncate_left = false;  // truncation_side == "left"
};

// Reads pad_token, padding_side and truncation_side from `dir`/tokenizer_config.json (absent
// file or keys: transformers' defaults, except that a pad token is required). Throws FormatError
// naming the file and key.
PaddingConfig read_padding_config(const std::filesystem::path& dir,
                                  const tokenizer::Tokenizer& tokenizer);

class PromptEncoder {
 public:
  // text_encoder: a Qwen2_5_VLForConditionalGeneration directory (only the language model is
  // loaded); tokenizer: the directory with tokenizer.json and tokenizer_config.json.
  static PromptEncoder load(const std::filesystem::path& text_encoder,
                            const std::filesystem::path& tokenizer,
                            const qwen2_5_vl::ModelOptions& options);
  PromptEncoder(PromptEncoder&&) noexcept;
  PromptEncoder& operator=(PromptEncoder&&) noexcept;
  ~PromptEncoder();

  // Steps 1-2: int64 [max_sequence_length].
  at::Tensor token_ids(const std::string& prompt, std::int64_t max_sequence_length) const;
  // Steps 1-4: [1, max_sequence_length, layers * hidden] in the encoder's dtype, on its device.
  at::Tensor encode(const std::string& prompt, std::int64_t max_sequence_length) const;
  // The embedding width encode() produces (the DiT connector's input).
  std::int64_t embedding_width() const;

  const qwen2_5_vl::Model& model() const { return *model_; }
  const PaddingConfig& padding() const { return padding_; }

 private:
  PromptEncoder(std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                PaddingConfig padding,
                std::unique_ptr<qwen2_5_vl::Model> model);
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  PaddingConfig padding_;
  std::unique_ptr<qwen2_5_vl::Model> model_;
};

}  // namespace duogen::pipeline::cosmos
