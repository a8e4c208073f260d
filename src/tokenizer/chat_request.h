// A chat prompt as JSON (the file `duogen tokenize --chat FILE` reads), either a bare array of
// messages or an object:
//   {"messages": [{"role": "user", "content": "text" | [items]}],
//    "add_generation_prompt": true, "add_vision_id": false, "system_prompt": "...",
//    "bov": {"text": "<BOV>", "id": 151665}, "eov": {"text": "<|vision_end|>", "id": 151653}}
// Items follow the HF message format: {"type": "text", "text": "..."}, {"type": "image"},
// {"type": "video"}, plus "pad_tokens": n (image pad count from the vision processor) and
// "generated": true (an image the model produced, introduced by <BOV>).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"

namespace duogen::tokenizer {

struct ChatRequest {
  std::vector<ChatMessage> messages;
  ChatTemplateOptions options;
};

// where names the source in error messages (InvalidArgument naming the message and item).
ChatRequest parse_chat_request(const nlohmann::json& j, const std::string& where);

}  // namespace duogen::tokenizer
