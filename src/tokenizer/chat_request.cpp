#include "tokenizer/chat_request.h"

#include <nlohmann/json.hpp>

#include "core/check.h"

namespace duogen::tokenizer {
namespace {

using nlohmann::json;

ChatItem parse_item(const json& j, const std::string& where) {
  DUOGEN_CHECK(j.is_object(), InvalidArgument, "{}: a content item must be an object", where);
  const std::string type = j.value("type", "");
  ChatItem item;
  if (type == "text" || (type.empty() && j.contains("text"))) {
    DUOGEN_CHECK(j.contains("text") && j["text"].is_string(), InvalidArgument,
                 "{}: a text item needs a string \"text\"", where);
    item.text = j["text"].get<std::string>();
    return item;
  }
  // HF templates also recognise {"image": ...} / {"image_url": ...} and {"video": ...}.
  if (type == "image" || j.contains("image") || j.contains("image_url")) {
    item.kind = ChatItemKind::kImage;
  } else if (type == "video" || j.contains("video")) {
    item.kind = ChatItemKind::kVideo;
  } else {
    DUOGEN_FAIL(InvalidArgument, "{}: unknown content item type {:?}", where, type);
  }
  if (j.contains("pad_tokens")) {
    DUOGEN_CHECK(j["pad_tokens"].is_number_integer() && j["pad_tokens"].get<std::int64_t>() >= 1,
                 InvalidArgument, "{}: \"pad_tokens\" must be a positive integer", where);
    item.pad_tokens = j["pad_tokens"].get<std::int64_t>();
  }
  if (j.contains("generated")) {
    DUOGEN_CHECK(j["generated"].is_boolean(), InvalidArgument, "{}: \"generated\" must be a boolean",
                 where);
    item.generated = j["generated"].get<bool>();
  }
  return item;
}

ChatMessage parse_message(const json& j, const std::string& where) {
  DUOGEN_CHECK(j.is_object() && j.contains("role") && j["role"].is_string(), InvalidArgument,
               "{}: a message must be an object with a string \"role\"", where);
  ChatMessage message;
  message.role = j["role"].get<std::string>();
  const json content = j.value("content", json(""));
  if (content.is_string()) {
    message.items.push_back({ChatItemKind::kText, content.get<std::string>()});
  } else {
    DUOGEN_CHECK(content.is_array(), InvalidArgument,
                 "{}: \"content\" must be a string or an array of items", where);
    for (std::size_t i = 0; i < content.size(); ++i) {
      message.items.push_back(parse_item(content[i], fmt::format("{}.content[{}]", where, i)));
    }
  }
  return message;
}

TokenRef parse_token(const json& j, const std::string& where) {
  DUOGEN_CHECK(j.is_object() && j.contains("text") && j["text"].is_string() && j.contains("id") &&
                   j["id"].is_number_integer(),
               InvalidArgument, "{}: expected {{\"text\": string, \"id\": integer}}", where);
  return {j["text"].get<std::string>(), j["id"].get<std::int32_t>()};
}

bool parse_bool(const json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key)) return fallback;
  DUOGEN_CHECK(j[key].is_boolean(), InvalidArgument, "{}: \"{}\" must be a boolean", where, key);
  return j[key].get<bool>();
}

}  // namespace

ChatRequest parse_chat_request(const json& j, const std::string& where) {
  ChatRequest request;
  const json* messages = &j;
  if (j.is_object()) {
    DUOGEN_CHECK(j.contains("messages"), InvalidArgument, "{}: missing \"messages\"", where);
    messages = &j["messages"];
    ChatTemplateOptions& o = request.options;
    o.add_generation_prompt = parse_bool(j, "add_generation_prompt", o.add_generation_prompt, where);
    o.add_vision_id = parse_bool(j, "add_vision_id", o.add_vision_id, where);
    if (j.contains("system_prompt")) {
      DUOGEN_CHECK(j["system_prompt"].is_string(), InvalidArgument,
                   "{}: \"system_prompt\" must be a string", where);
      o.default_system_prompt = j["system_prompt"].get<std::string>();
    }
    if (j.contains("bov")) o.bov = parse_token(j["bov"], where + ".bov");
    if (j.contains("eov")) o.eov = parse_token(j["eov"], where + ".eov");
  }
  DUOGEN_CHECK(messages->is_array(), InvalidArgument, "{}: \"messages\" must be an array", where);
  for (std::size_t i = 0; i < messages->size(); ++i) {
    request.messages.push_back(parse_message((*messages)[i], fmt::format("{}: messages[{}]", where, i)));
  }
  return request;
}

}  // namespace duogen::tokenizer
