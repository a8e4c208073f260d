// OpenAI response bodies and stream chunks (docs/server.md) from duogen's generation results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "duogen/duogen.h"

namespace duogen::server {

// What every chunk and answer of one completion shares.
struct Completion {
  std::string id;  // chatcmpl-...
  std::int64_t created = 0;
  std::string model;
};

// One Server-Sent Event: "data: <json>\n\n".
std::string sse(const nlohmann::json& value);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

std::string png_data_url(const Image& image);
// "stop" (end of turn) or "length" (max_tokens).
const char* finish_reason(const GenerationResult& result);
nlohmann::json usage(const GenerationResult& result);
nlohmann::json usage(const std::vector<GenerationResult>& results);

nlohmann::json first_chunk(const Completion& c);
nlohmann::json text_chunk(const Completion& c, std::string_view piece);
nlohmann::json progress_chunk(const Completion& c, std::size_t image, std::int64_t step,
                              std::int64_t steps);
nlohmann::json image_chunk(const Completion& c, const Image& image);
nlohmann::json last_chunk(const Completion& c, const GenerationResult& result);
nlohmann::json usage_chunk(const Completion& c, const GenerationResult& result);

// The non-streamed answer: content a string (text only) or the list of parts in order.
nlohmann::json chat_completion(const Completion& c, const GenerationResult& result,
                               bool image_parts);

// POST /v1/images/*: {"created", "data": [{"b64_json"}...], "usage"}.
nlohmann::json images_response(std::int64_t created, const std::vector<GenerationResult>& results);

}  // namespace duogen::server
