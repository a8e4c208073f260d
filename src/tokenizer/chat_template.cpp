#include "tokenizer/chat_template.h"

#include <fmt/format.h>

#include "core/check.h"

namespace duogen::tokenizer {

// Accumulates the prompt. Text between fixed tokens is encoded in one piece, exactly as the HF
// processor encodes the whole rendered string (added tokens written in user text included).
class ChatTemplate::Builder {
 public:
  explicit Builder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  void text(std::string_view s) {
    pending_ += s;
    out_.text += s;
  }
  void token(const TokenRef& t, std::int64_t count = 1) {
    flush();
    for (std::int64_t i = 0; i < count; ++i) {
      out_.text += t.text;
      out_.ids.push_back(t.id);
    }
  }
  RenderedPrompt finish() {
    flush();
    return std::move(out_);
  }

 private:
  void flush() {
    if (pending_.empty()) return;
    const auto ids = tokenizer_.encode(pending_);
    out_.ids.insert(out_.ids.end(), ids.begin(), ids.end());
    pending_.clear();
  }

  const Tokenizer& tokenizer_;
  std::string pending_;
  RenderedPrompt out_;
};

namespace {

TokenRef lookup(const Tokenizer& tokenizer, const char* text) {
  const auto id = tokenizer.token_to_id(text);
  DUOGEN_CHECK(id.has_value(), InvalidArgument,
               "the tokenizer has no token {} that the Qwen2.5-VL chat template needs", text);
  return {text, *id};
}

}  // namespace

ChatTemplate::ChatTemplate(const Tokenizer& tokenizer, ChatTemplateOptions options)
    : tokenizer_(tokenizer),
      options_(std::move(options)),
      im_start_(lookup(tokenizer, "<|im_start|>")),
      im_end_(lookup(tokenizer, "<|im_end|>")),
      vision_start_(lookup(tokenizer, "<|vision_start|>")),
      vision_end_(lookup(tokenizer, "<|vision_end|>")),
      image_pad_(lookup(tokenizer, "<|image_pad|>")),
      video_pad_(lookup(tokenizer, "<|video_pad|>")) {
  for (const TokenRef* t : {&options_.bov, &options_.eov}) {
    DUOGEN_CHECK(!t->text.empty() && t->id >= 0, InvalidArgument,
                 "chat template: BOV/EOV tokens need a text and a non-negative id (got {:?}, {})",
                 t->text, t->id);
  }
}

void ChatTemplate::render_item(Builder& b, const ChatItem& item, int& images, int& videos) const {
  switch (item.kind) {
    case ChatItemKind::kText:
      b.text(item.text);
      return;
    case ChatItemKind::kImage: {
      DUOGEN_CHECK(item.pad_tokens >= 1, InvalidArgument,
                   "chat template: an image needs at least one pad token (got {})", item.pad_tokens);
      ++images;
      if (options_.add_vision_id) b.text(fmt::format("Picture {}: ", images));
      if (item.generated) {
        // <BOV> starts the span; when it is <|vision_start|> itself it is not repeated.
        b.token(options_.bov);
        if (options_.bov.id != vision_start_.id) b.token(vision_start_);
      } else {
        b.token(vision_start_);
      }
      b.token(image_pad_, item.pad_tokens);
      b.token(vision_end_);
      if (item.generated && options_.eov.id != vision_end_.id) b.token(options_.eov);
      return;
    }
    case ChatItemKind::kVideo:
      DUOGEN_CHECK(item.pad_tokens >= 1, InvalidArgument,
                   "chat template: a video needs at least one pad token (got {})", item.pad_tokens);
      ++videos;
      if (options_.add_vision_id) b.text(fmt::format("Video {}: ", videos));
      b.token(vision_start_);
      b.token(video_pad_, item.pad_tokens);
      b.token(vision_end_);
      return;
  }
}

RenderedPrompt ChatTemplate::render(const std::vector<ChatMessage>& messages) const {
  Builder b(tokenizer_);
  int images = 0, videos = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    DUOGEN_CHECK(!message.role.empty(), InvalidArgument, "chat message {} has no role", i);
    if (i == 0 && message.role != "system") {
      b.token(im_start_);
      b.text("system\n" + options_.default_system_prompt);
      b.token(im_end_);
      b.text("\n");
    }
    b.token(im_start_);
    b.text(message.role + "\n");
    for (const ChatItem& item : message.items) render_item(b, item, images, videos);
    b.token(im_end_);
    b.text("\n");
  }
  if (options_.add_generation_prompt) {
    b.token(im_start_);
    b.text("assistant\n");
  }
  return b.finish();
}

}  // namespace duogen::tokenizer
