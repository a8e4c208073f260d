// The Qwen2-VL / Qwen2.5-VL chat template (architecture.md §2.5), rendered in C++ instead of
// through Jinja:
//   [<|im_start|>system\n{default system prompt}<|im_end|>\n]   if the first turn is not system
//   <|im_start|>{role}\n{items}<|im_end|>\n                      per message
//   <|im_start|>assistant\n                                      with add_generation_prompt
// An image item is <|vision_start|>{<|image_pad|> x n}<|vision_end|> where n comes from the
// vision processor (the Jinja template writes one pad; the HF processor then expands it).
//
// DuoGen additions (its token names are not public, so both are options): an image the model
// generated is introduced by the begin-of-vision token <BOV>, and the vision span may be closed
// by an end-of-vision token. Defaults: <BOV> is a new added token with id 151665, the first id
// after Qwen2.5-VL's added tokens; end-of-vision reuses <|vision_end|> (151653). Set bov to
// {"<|vision_start|>", 151652} for a release that reuses the existing token.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace duogen::tokenizer {

// A token given by both its text (for the rendered prompt) and its id (for the ids), so that a
// token the tokenizer file does not know yet can still be used.
struct TokenRef {
  std::string text;
  std::int32_t id = 0;
};

struct ChatTemplateOptions {
  std::string default_system_prompt = "You are a helpful assistant.";
  bool add_generation_prompt = true;
  bool add_vision_id = false;  // prefix images with "Picture k: " and videos with "Video k: "
  TokenRef bov{"<BOV>", 151665};
  TokenRef eov{"<|vision_end|>", 151653};
};

enum class ChatItemKind { kText, kImage, kVideo };

struct ChatItem {
  ChatItemKind kind = ChatItemKind::kText;
  std::string text;             // for kText
  std::int64_t pad_tokens = 1;  // <|image_pad|>/<|video_pad|> copies for kImage/kVideo
  bool generated = false;       // an image the model generated: introduced by <BOV>
};

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::vector<ChatItem> items;
};

struct RenderedPrompt {
  std::string text;
  std::vector<std::int32_t> ids;
};

class ChatTemplate {
 public:
  // Looks up the Qwen chat and vision tokens; throws InvalidArgument if the tokenizer lacks one.
  // tokenizer must outlive the template.
  ChatTemplate(const Tokenizer& tokenizer, ChatTemplateOptions options);

  RenderedPrompt render(const std::vector<ChatMessage>& messages) const;
  const ChatTemplateOptions& options() const { return options_; }

 private:
  class Builder;
  void render_item(Builder& b, const ChatItem& item, int& images, int& videos) const;

  const Tokenizer& tokenizer_;
  ChatTemplateOptions options_;
  TokenRef im_start_, im_end_, vision_start_, vision_end_, image_pad_, video_pad_;
};

}  // namespace duogen::tokenizer
