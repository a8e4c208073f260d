#include "pipeline/qwen_conversation.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "core/check.h"
#include "io/image_io.h"
#include "models/qwen2_5_vl/generation_config.h"
#include "runtime/memory_plan.h"
#include "tokenizer/load_tokenizer.h"

namespace duogen::pipeline {
namespace {

tokenizer::ChatTemplateOptions template_options(const ModelManifest& m) {
  tokenizer::ChatTemplateOptions o;
  o.bov = {m.bov_token, static_cast<std::int32_t>(m.bov_token_id)};
  o.eov = {m.eov_token, static_cast<std::int32_t>(m.eov_token_id)};
  return o;
}

qwen2_5_vl::ImageProcessor make_processor(const ModelManifest& m) {
  auto config = qwen2_5_vl::ImageProcessorConfig::from_directory(m.mllm);
  config.max_side = m.mllm_max_side;
  return qwen2_5_vl::ImageProcessor(config);
}

at::Tensor load_user_image(const ContentPart& part) {
  return part.image_bytes.empty()
             ? io::read_image_rgb(part.image_path, io::AlphaMode::kCompositeOnWhite)
             : io::decode_image_rgb(part.image_bytes, "inline image",
                                    io::AlphaMode::kCompositeOnWhite);
}

std::vector<qwen2_5_vl::ImageGrid> grids_of(const at::Tensor& grid_thw) {
  const at::Tensor g = grid_thw.to(at::kCPU, at::kLong).contiguous();
  std::vector<qwen2_5_vl::ImageGrid> out;
  for (std::int64_t i = 0; i < g.size(0); ++i) {
    out.push_back({g[i][0].item<std::int64_t>(), g[i][1].item<std::int64_t>(),
                   g[i][2].item<std::int64_t>()});
  }
  return out;
}

// First index after the first occurrence of `needle` in `haystack`, or nullopt.
std::optional<std::int64_t> end_of_first(const std::vector<std::int64_t>& haystack,
                                         const std::vector<std::int32_t>& needle) {
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
  if (it == haystack.end()) return std::nullopt;
  return static_cast<std::int64_t>(it - haystack.begin() + needle.size());
}

}  // namespace

QwenConversation::QwenConversation(const ModelManifest& manifest,
                                   const ConversationOptions& options)
    : manifest_(manifest),
      options_(options),
      tokenizer_(tokenizer::load_tokenizer(manifest.tokenizer)),
      mllm_(
          "mllm",
          [manifest, options] {
            qwen2_5_vl::ModelOptions text_options;
            text_options.dtype = options.dtype;
            text_options.device = options.device;
            text_options.cache.initial_capacity = options.context_capacity;
            text_options.attention = options.attention;
            MllmWeights w{qwen2_5_vl::Model::load(manifest.mllm, text_options),
                          qwen2_5_vl::VisionTower::load(manifest.mllm, options.dtype,
                                                        options.device)};
            w.vision.set_attention(options.attention);
            return w;
          },
          options.residency,
          options.residency ? runtime::describe_model(manifest).mllm_weights.bytes(options.dtype)
                            : 0,
          [this](const MllmWeights& w) { config_ = w.text.config(); }),
      processor_(make_processor(manifest)),
      template_(*tokenizer_, template_options(manifest)),
      hidden_(options.context_capacity) {
  const std::int64_t vocab = config_->text.vocab_size;
  DUOGEN_CHECK(manifest.bov_token_id < vocab && manifest.eov_token_id < vocab, FormatError,
               "{}: <BOV> id {} / end-of-vision id {} are outside the MLLM's vocabulary of {}",
               manifest.file.empty() ? manifest.mllm.string() : manifest.file.string(),
               manifest.bov_token_id, manifest.eov_token_id, vocab);
}

std::int64_t QwenConversation::retained_bytes() const {
  const auto bytes = [](const at::Tensor& t) {
    return t.defined() ? static_cast<std::int64_t>(t.nbytes()) : std::int64_t{0};
  };
  std::int64_t total = hidden_.bytes() + bytes(logits_);
  if (session_) total += session_->cache().bytes();
  for (const at::Tensor& image : user_images_) total += bytes(image);
  return total;
}

std::int64_t QwenConversation::retained_tokens() const {
  return hidden_.length() + (session_ ? session_->length() : 0);
}

std::optional<std::int64_t> QwenConversation::token_id(const std::string& token) const {
  if (token == manifest_.bov_token) return manifest_.bov_token_id;
  if (token == manifest_.eov_token) return manifest_.eov_token_id;
  if (const auto id = tokenizer_->token_to_id(token)) return *id;
  if (!token.empty() && token.size() < 10 &&
      token.find_first_not_of("0123456789") == std::string::npos) {
    const std::int64_t id = std::stoll(token);
    if (id < config_->text.vocab_size) return id;
  }
  return std::nullopt;
}

std::set<std::int64_t> QwenConversation::stop_token_ids() const {
  const auto ids = qwen2_5_vl::stop_token_ids(manifest_.mllm, *config_);
  std::set<std::int64_t> out(ids.begin(), ids.end());
  if (const auto im_end = tokenizer_->token_to_id("<|im_end|>")) out.insert(*im_end);
  return out;
}

void QwenConversation::feed(const std::vector<std::int64_t>& ids, const at::Tensor& image_embeds,
                            const std::vector<qwen2_5_vl::ImageGrid>& grids) {
  qwen2_5_vl::ChunkInput chunk(at::tensor(ids, at::kLong), image_embeds, grids,
                               qwen2_5_vl::LogitsMode::kLast);
  chunk.capture_hidden_states = true;
  const qwen2_5_vl::ChunkOutput out = mllm_.use()->text.forward(*session_, chunk);
  logits_ = out.logits;
  hidden_.append(out.hidden_states);
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());
}

std::int64_t QwenConversation::start(const std::vector<Message>& messages, std::uint64_t seed) {
  c10::InferenceMode guard;
  session_ = mllm_.use()->text.new_session();
  tokens_.clear();
  hidden_.clear();
  user_images_.clear();
  sampler_.reset();
  seed_ = seed;
  decoder_.emplace(*tokenizer_, /*skip_special=*/true);
  marks_ = {};

  std::vector<tokenizer::ChatMessage> chat;
  for (const auto& m : messages) {
    tokenizer::ChatMessage cm{m.role, {}};
    for (const auto& part : m.content) {
      if (part.kind == ContentPart::Kind::kText) {
        cm.items.push_back({tokenizer::ChatItemKind::kText, part.text, 1, false});
        continue;
      }
      const at::Tensor rgb = load_user_image(part);
      const auto size = processor_.target_size(rgb.size(0), rgb.size(1));
      const std::int64_t merge = processor_.config().merge_size * processor_.config().patch_size;
      cm.items.push_back({tokenizer::ChatItemKind::kImage, {},
                          (size.height / merge) * (size.width / merge),
                          m.role == "assistant"});
      user_images_.push_back(rgb);
    }
    chat.push_back(std::move(cm));
  }
  const tokenizer::RenderedPrompt prompt = template_.render(chat);
  const std::vector<std::int64_t> ids(prompt.ids.begin(), prompt.ids.end());

  at::Tensor embeds;
  std::vector<qwen2_5_vl::ImageGrid> grids;
  if (!user_images_.empty()) {
    const qwen2_5_vl::ProcessedImages processed = processor_.process(user_images_);
    embeds = mllm_.use()->vision.forward(processed.pixel_values.to(options_.device),
                                         processed.grid_thw);
    grids = grids_of(processed.grid_thw);
  }
  feed(ids, embeds, grids);

  const auto user_header = tokenizer_->encode("<|im_start|>user\n");
  const auto first_user = end_of_first(tokens_, user_header);
  DUOGEN_CHECK(first_user.has_value(), InvalidArgument,
               "the conversation has no user message to answer");
  marks_.first_user_content = *first_user;
  marks_.assistant_start = length();
  for (std::int64_t i = 0; i < length(); ++i) {
    if (tokens_[i] == manifest_.eov_token_id) marks_.image_ends.push_back(i);
  }
  return length();
}

std::int64_t QwenConversation::sample_next(const TextSampling& s) {
  c10::InferenceMode guard;
  DUOGEN_CHECK(session_.has_value(), InvalidArgument, "sample_next before start");
  if (!sampler_) {
    sampling::SamplingOptions o;
    o.do_sample = s.temperature > 0;
    o.temperature = s.temperature > 0 ? s.temperature : 1.0;
    o.top_k = s.top_k;
    o.top_p = s.top_p;
    o.min_p = s.min_p;
    o.repetition_penalty = s.repetition_penalty;
    o.seed = seed_;
    sampling::validate(o);
    sampler_.emplace(o);
  }
  // Biases change during a job (<BOV> is banned past max_images), so they are applied here
  // rather than fixed in the sampler; transformers applies them first as well.
  std::map<std::int64_t, double> bias;
  for (const auto& [id, value] : s.logit_bias) bias[id] += value;
  const at::Tensor logits = bias.empty() ? logits_ : sampling::apply_logit_bias(logits_, bias);
  const std::int64_t token = sampler_->sample(logits, tokens_);
  feed({token}, {}, {});
  return token;
}

void QwenConversation::force_next(std::int64_t token) {
  c10::InferenceMode guard;
  DUOGEN_CHECK(session_.has_value(), InvalidArgument, "force_next before start");
  feed({token}, {}, {});
}

std::string QwenConversation::token_text(std::int64_t token) {
  return decoder_->push(static_cast<std::int32_t>(token));
}

std::string QwenConversation::flush_text() { return decoder_ ? decoder_->finish() : ""; }

at::Tensor QwenConversation::hidden_states(std::int64_t end) {
  return hidden_.prefix(end);
}

void QwenConversation::append_image(const at::Tensor& rgb) {
  c10::InferenceMode guard;
  const qwen2_5_vl::ProcessedImages processed = processor_.process({rgb});
  const at::Tensor embeds = mllm_.use()->vision.forward(
      processed.pixel_values.to(options_.device), processed.grid_thw);
  // The <BOV> already in the context opens the span, as the chat template renders a generated
  // image: [<|vision_start|>] <|image_pad|> x n <|vision_end|> [end-of-vision].
  const auto vision_start = tokenizer_->token_to_id("<|vision_start|>");
  const auto vision_end = tokenizer_->token_to_id("<|vision_end|>");
  const auto image_pad = tokenizer_->token_to_id("<|image_pad|>");
  DUOGEN_CHECK(vision_start && vision_end && image_pad, FormatError,
               "{}: the tokenizer lacks the Qwen vision tokens", manifest_.tokenizer.string());
  std::vector<std::int64_t> ids;
  if (manifest_.bov_token_id != *vision_start) ids.push_back(*vision_start);
  ids.insert(ids.end(), embeds.size(0), *image_pad);
  ids.push_back(*vision_end);
  if (manifest_.eov_token_id != *vision_end) ids.push_back(manifest_.eov_token_id);
  feed(ids, embeds, grids_of(processed.grid_thw));
  marks_.image_ends.push_back(length() - 1);
}

}  // namespace duogen::pipeline
