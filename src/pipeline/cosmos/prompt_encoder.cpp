#include "pipeline/cosmos/prompt_encoder.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/json_config.h"
#include "models/cosmos_dit/connector.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/load_tokenizer.h"

namespace duogen::pipeline::cosmos {
namespace fs = std::filesystem;

const char* const kDefaultNegativePrompt =
    "The video captures a series of frames showing ugly scenes, static with no motion, motion "
    "blur, over-saturation, shaky footage, low resolution, grainy texture, pixelated images, "
    "poorly lit areas, underexposed and overexposed scenes, poor color balance, washed out "
    "colors, choppy sequences, jerky movements, low frame rate, artifacting, color banding, "
    "unnatural transitions, outdated special effects, fake elements, unconvincing visuals, "
    "poorly edited content, jump cuts, visual noise, and flickering. Overall, the video is of "
    "poor quality.";

namespace {

// "left" or "right" (transformers' PreTrainedTokenizerBase accepts nothing else).
bool left_side(const io::JsonObject& config, const char* key) {
  const std::string side = config.get<std::string>(key, "right");
  DUOGEN_CHECK(side == "left" || side == "right", FormatError,
               "{}: '{}' must be \"left\" or \"right\", got \"{}\"", config.file(), key, side);
  return side == "left";
}

}  // namespace

PaddingConfig read_padding_config(const fs::path& dir, const tokenizer::Tokenizer& tokenizer) {
  const fs::path file = dir / "tokenizer_config.json";
  DUOGEN_CHECK(fs::is_regular_file(file), IoError,
               "{}: missing; the Cosmos text conditioning pads with its pad_token", file.string());
  const io::JsonObject config = io::JsonObject::from_file(file);
  PaddingConfig p;
  // pad_token is a string, or an AddedToken object {"content": ...} in older files.
  const nlohmann::json& raw =
      config.json().contains("pad_token") ? config.json()["pad_token"] : nlohmann::json();
  if (raw.is_string()) {
    p.pad_token = raw.get<std::string>();
  } else if (raw.is_object() && raw.contains("content") && raw["content"].is_string()) {
    p.pad_token = raw["content"].get<std::string>();
  } else {
    DUOGEN_FAIL(FormatError,
                "{}: 'pad_token' must name a token (padding to max_length needs one), got {}",
                file.string(), raw.dump());
  }
  const auto id = tokenizer.token_to_id(p.pad_token);
  DUOGEN_CHECK(id.has_value(), FormatError, "{}: 'pad_token' \"{}\" is not in the vocabulary",
               file.string(), p.pad_token);
  p.pad_id = *id;
  p.pad_left = left_side(config, "padding_side");
  p.truncate_left = left_side(config, "truncation_side");
  return p;
}

PromptEncoder::PromptEncoder(std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                             PaddingConfig padding,
                             std::unique_ptr<qwen2_5_vl::Model> model)
    : tokenizer_(std::move(tokenizer)), padding_(std::move(padding)), model_(std::move(model)) {}
PromptEncoder::PromptEncoder(PromptEncoder&&) noexcept = default;
PromptEncoder& PromptEncoder::operator=(PromptEncoder&&) noexcept = default;
PromptEncoder::~PromptEncoder() = default;

PromptEncoder PromptEncoder::load(const fs::path& text_encoder,
                                  const fs::path& tokenizer_dir,
                                  const qwen2_5_vl::ModelOptions& options) {
  auto tok = tokenizer::load_tokenizer(tokenizer_dir);
  PaddingConfig padding = read_padding_config(tokenizer_dir, *tok);
  // The conditioning reads hidden states only, as diffusers' pipeline does: no output head.
  qwen2_5_vl::ModelOptions encoder_options = options;
  encoder_options.lm_head = false;
  auto model =
      std::make_unique<qwen2_5_vl::Model>(qwen2_5_vl::Model::load(text_encoder, encoder_options));
  DUOGEN_CHECK(padding.pad_id < model->config().text.vocab_size, FormatError,
               "{}: pad token id {} is outside the text encoder's vocabulary of {}",
               (tokenizer_dir / "tokenizer_config.json").string(), padding.pad_id,
               model->config().text.vocab_size);
  return PromptEncoder(std::move(tok), std::move(padding), std::move(model));
}

at::Tensor PromptEncoder::token_ids(const std::string& prompt,
                                    std::int64_t max_sequence_length) const {
  DUOGEN_CHECK(max_sequence_length >= 1, InvalidArgument,
               "max_sequence_length must be positive, got {}", max_sequence_length);
  tokenizer::ChatTemplateOptions options;
  options.add_generation_prompt = false;
  options.add_vision_id = false;
  const tokenizer::ChatTemplate chat(*tokenizer_, options);
  using tokenizer::ChatItem;
  const std::vector<tokenizer::ChatMessage> messages = {
      {"system", {ChatItem{tokenizer::ChatItemKind::kText, kSystemPrompt}}},
      {"user", {ChatItem{tokenizer::ChatItemKind::kText, prompt}}}};
  std::vector<std::int32_t> ids = chat.render(messages).ids;
  const auto length = static_cast<std::size_t>(max_sequence_length);
  if (ids.size() > length) {
    if (padding_.truncate_left) {
      ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(length));
    } else {
      ids.resize(length);
    }
  }
  const std::size_t pads = length - ids.size();
  ids.insert(padding_.pad_left ? ids.begin() : ids.end(), pads, padding_.pad_id);
  return at::tensor(std::vector<std::int64_t>(ids.begin(), ids.end()), at::kLong);
}

at::Tensor PromptEncoder::encode(const std::string& prompt,
                                 std::int64_t max_sequence_length) const {
  c10::InferenceMode guard;
  qwen2_5_vl::ChunkInput chunk(token_ids(prompt, max_sequence_length));
  chunk.logits = qwen2_5_vl::LogitsMode::kNone;
  chunk.capture_hidden_states = true;
  qwen2_5_vl::Session session = model_->new_session();
  const qwen2_5_vl::ChunkOutput out = model_->forward(session, chunk);
  // [L + 1, T, H]: entries 1..L (after the embedding) are the conditioning.
  return cosmos_dit::concat_normalized_layers(out.hidden_states, embedding_width()).unsqueeze(0);
}

std::int64_t PromptEncoder::embedding_width() const {
  const auto& text = model_->config().text;
  return text.num_hidden_layers * text.hidden_size;
}

}  // namespace duogen::pipeline::cosmos
