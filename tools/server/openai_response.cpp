#include "openai_response.h"

namespace duogen::server {
namespace {

using json = nlohmann::json;

json chunk(const Completion& c, json choices) {
  return {{"id", c.id},
          {"object", "chat.completion.chunk"},
          {"created", c.created},
          {"model", c.model},
          {"choices", std::move(choices)}};
}

json delta_choice(json delta, json finish = nullptr) {
  return json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}});
}

json image_url_part(const Image& image) {
  return {{"type", "image_url"}, {"image_url", {{"url", png_data_url(image)}}}};
}

const Image* first_image(const GenerationResult& r) {
  for (const auto& p : r.parts) {
    if (p.kind == OutputPart::Kind::kImage) return &p.image;
  }
  return nullptr;
}

}  // namespace

std::string sse(const json& value) { return "data: " + value.dump() + "\n\n"; }

std::string png_data_url(const Image& image) {
  return "data:image/png;base64," + base64_encode(encode_png(image));
}

const char* finish_reason(const GenerationResult& r) {
  return r.stop_reason == "max_new_tokens" ? "length" : "stop";
}

json usage(const GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens},
          {"images", r.images}};
}

json usage(const std::vector<GenerationResult>& results) {
  std::int64_t prompt = 0, completion = 0;
  std::size_t images = 0;
  for (const auto& r : results) {
    prompt += r.prompt_tokens;
    completion += r.completion_tokens;
    images += r.images;
  }
  // OpenAI's image usage names, plus the count of images.
  return {{"input_tokens", prompt},
          {"output_tokens", completion},
          {"total_tokens", prompt + completion},
          {"images", images}};
}

json first_chunk(const Completion& c) {
  return chunk(c, delta_choice({{"role", "assistant"}, {"content", ""}}));
}

json text_chunk(const Completion& c, std::string_view piece) {
  return chunk(c, delta_choice({{"content", piece}}));
}

json progress_chunk(const Completion& c, std::size_t image, std::int64_t step, std::int64_t steps) {
  json out = chunk(c, json::array());
  out["progress"] = {{"image", image}, {"step", step}, {"steps", steps}};
  return out;
}

json image_chunk(const Completion& c, const Image& image) {
  return chunk(c, delta_choice({{"content", json::array({image_url_part(image)})}}));
}

json last_chunk(const Completion& c, const GenerationResult& r) {
  return chunk(c, delta_choice(json::object(), finish_reason(r)));
}

json usage_chunk(const Completion& c, const GenerationResult& r) {
  json out = chunk(c, json::array());
  out["usage"] = usage(r);
  return out;
}

json chat_completion(const Completion& c, const GenerationResult& r, bool image_parts) {
  json content;
  if (image_parts) {
    content = json::array();
    for (const auto& p : r.parts) {
      content.push_back(p.kind == OutputPart::Kind::kText
                            ? json{{"type", "text"}, {"text", p.text}}
                            : image_url_part(p.image));
    }
  } else {
    std::string text;
    for (const auto& p : r.parts) text += p.text;
    content = text;
  }
  json message = {{"role", "assistant"}, {"content", content}};
  return {{"id", c.id},
          {"object", "chat.completion"},
          {"created", c.created},
          {"model", c.model},
          {"choices", json::array({{{"index", 0},
                                    {"message", message},
                                    {"finish_reason", finish_reason(r)}}})},
          {"usage", usage(r)}};
}

json images_response(std::int64_t created, const std::vector<GenerationResult>& results) {
  json data = json::array();
  for (const auto& r : results) {
    const Image* image = first_image(r);
    data.push_back({{"b64_json", image ? base64_encode(encode_png(*image)) : ""}});
  }
  return {{"created", created}, {"data", data}, {"usage", usage(results)}};
}

}  // namespace duogen::server
