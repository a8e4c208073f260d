// OpenAI request bodies -> duogen jobs (docs/server.md): chat completions, image generations and
// image edits. Every problem is an ApiError naming the field: 400 for bad JSON, types, values and
// unknown fields; 404 for another model; 413 for too many or too large images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "duogen/duogen.h"

namespace duogen::server {

struct RequestLimits {
  std::string model_id;  // the only model a request may name
  std::vector<std::filesystem::path> allow_paths;  // canonical directories file images may be in
  std::int64_t max_input_images = 8;
  std::int64_t max_image_pixels = 4096LL * 4096;
  std::int64_t max_tokens = 4096;
  std::int64_t default_max_tokens = 1024;  // the model's, capped at max_tokens
};

struct ChatRequest {
  Job job;
  bool stream = false;
  bool include_usage = false;
  bool images = false;  // modalities ["text", "image"]
  std::string user;
};

struct ImagesRequest {
  Job job;
  std::int64_t n = 1;
  std::uint64_t seed = 0;
  bool seed_given = false;
};

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits);
ImagesRequest parse_image_generation(const std::string& body, const RequestLimits& limits);

// A multipart/form-data edit: text fields and the uploaded image files, in order.
struct EditForm {
  std::multimap<std::string, std::string> fields;
  std::vector<std::pair<std::string, std::string>> images;  // (field/file name, bytes)
};
ImagesRequest parse_image_edit(const EditForm& form, const RequestLimits& limits);

}  // namespace duogen::server
