#include "openai_request.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api_error.h"

namespace duogen::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json parse_body(const std::string& body) {
  json v;
  try {
    v = json::parse(body);
  } catch (const json::exception& e) {
    // nlohmann's message without its "[json.exception.parse_error.101] " prefix.
    std::string what = e.what();
    if (const auto end = what.find("] "); what.rfind("[json.", 0) == 0 && end != std::string::npos) {
      what = what.substr(end + 2);
    }
    throw ApiError(400, fmt::format("the request body is not valid JSON: {}", what));
  }
  if (!v.is_object()) throw ApiError(400, "the request body must be a JSON object");
  return v;
}

// The job option a request field feeds, named as the request names it in errors.
std::string request_name(const std::string& job_field) {
  if (job_field == "max_new_tokens") return "max_tokens";
  if (job_field == "id") return "job";
  return job_field;
}

std::string request_message(std::string message) {
  for (const auto& [from, to] : {std::pair{"'max_new_tokens'", "'max_tokens'"},
                                 std::pair{"'id'", "'job'"}}) {
    for (auto at = message.find(from); at != std::string::npos; at = message.find(from)) {
      message.replace(at, std::string(from).size(), to);
    }
  }
  return message;
}

// parse_job on the job a request describes, its FieldErrors turned into 400s naming the field.
Job to_job(const json& job_json) {
  try {
    return parse_job(job_json.dump(), "/", "request", "chat");
  } catch (const FieldError& e) {
    throw bad_field(request_name(e.field()), request_message(e.what()));
  } catch (const FormatError& e) {
    throw ApiError(400, request_message(e.what()));
  }
}

void check_model(const json& v, const RequestLimits& limits, bool required) {
  if (!v.contains("model")) {
    if (required) throw bad_field("model", "'model' is required");
    return;
  }
  if (!v["model"].is_string()) throw bad_field("model", "'model' must be a string");
  const std::string model = v["model"].get<std::string>();
  if (model != limits.model_id) {
    throw ApiError(404, fmt::format("the model '{}' does not exist; this server has '{}'", model,
                                    limits.model_id),
                   "model", "model_not_found");
  }
}

// "WxH" -> width and height.
void put_size(const json& v, json& job, const json& request) {
  if (request.contains("width") || request.contains("height")) {
    throw bad_field("size", "give 'size' or 'width'/'height', not both");
  }
  const auto bad = [] {
    return bad_field("size", "'size' must be a string \"WxH\" (e.g. \"768x768\")");
  };
  if (!v.is_string()) throw bad();
  const std::string s = v.get<std::string>();
  const auto x = s.find('x');
  if (x == std::string::npos || x == 0 || x + 1 == s.size()) throw bad();
  try {
    std::size_t used_w = 0, used_h = 0;
    const long long w = std::stoll(s.substr(0, x), &used_w);
    const long long h = std::stoll(s.substr(x + 1), &used_h);
    if (used_w != x || used_h != s.size() - x - 1) throw bad();
    job["width"] = w;
    job["height"] = h;
  } catch (const std::logic_error&) {
    throw bad();
  }
}

// Fields that are duogen job options under the same name.
const std::set<std::string> kImageOptions = {"seed", "steps", "guidance", "width", "height",
                                             "solver", "schedule"};
const std::set<std::string> kTextOptions = {"temperature", "top_p", "top_k", "min_p",
                                            "repetition_penalty", "logit_bias", "max_images"};

void put_job_id(const json& v, json& job) {
  if (!v.is_string()) throw bad_field("job", "'job' must be a string (the job id)");
  job["id"] = v;
}

// An image_url part -> a job image part: data: URLs as they are, file paths only under an
// allowed directory.
json image_part(const json& part, const std::string& where, const RequestLimits& limits) {
  const std::string field = where + ".image_url";
  if (!part.contains("image_url") || !part["image_url"].is_object() ||
      !part["image_url"].contains("url") || !part["image_url"]["url"].is_string()) {
    throw bad_field(field, fmt::format("'{}' must be an object {{\"url\": ...}}", field));
  }
  for (const auto& [key, value] : part["image_url"].items()) {
    if (key == "url") continue;
    if (key == "detail" && value == "auto") continue;
    throw bad_field(field + "." + key,
                    fmt::format("'{}.{}' is not supported (only url, and detail \"auto\")", field,
                                key));
  }
  const std::string url = part["image_url"]["url"].get<std::string>();
  if (url.rfind("data:", 0) == 0) return {{"type", "image_url"}, {"image_url", {{"url", url}}}};
  std::string path = url;
  if (path.rfind("file://", 0) == 0) {
    path = path.substr(7);
  } else if (path.find("://") != std::string::npos) {
    throw bad_field(field + ".url", fmt::format("'{}.url': only data: URLs and file paths the "
                                                "server allows are read, not '{}'",
                                                field, url.substr(0, url.find("://") + 3)));
  }
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(path), ec);
  bool allowed = false;
  for (const auto& dir : limits.allow_paths) {
    const auto rel = canonical.lexically_relative(dir);
    allowed = allowed || (!ec && !rel.empty() && *rel.begin() != "..");
  }
  if (!allowed) {
    throw bad_field(field + ".url",
                    fmt::format("'{}.url': the server may not read '{}' (start it with "
                                "--allow-path for a directory holding it)",
                                field, path));
  }
  if (!fs::is_regular_file(canonical, ec)) {
    throw bad_field(field + ".url", fmt::format("'{}.url': no such file '{}'", field, path));
  }
  return {{"type", "image"}, {"path", canonical.string()}};
}

json convert_messages(const json& messages, const RequestLimits& limits) {
  if (!messages.is_array() || messages.empty()) {
    throw bad_field("messages", "'messages' must be a non-empty array");
  }
  json out = json::array();
  std::int64_t images = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw bad_field(where, fmt::format("'{}' must be an object", where));
    json message = json::object();
    for (const auto& [key, value] : m.items()) {
      if (key == "role") {
        message["role"] = value;
      } else if (key == "name") {
        if (!value.is_string()) throw bad_field(where + ".name", "'name' must be a string");
      } else if (key != "content") {
        throw bad_field(where + "." + key, fmt::format("'{}.{}' is not supported", where, key));
      }
    }
    const json content = m.contains("content") && !m["content"].is_null() ? m["content"] : json("");
    if (content.is_string()) {
      message["content"] = content;
    } else if (content.is_array()) {
      json parts = json::array();
      for (std::size_t j = 0; j < content.size(); ++j) {
        const json& part = content[j];
        const std::string pw = fmt::format("{}.content[{}]", where, j);
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
          throw bad_field(pw, fmt::format("'{}' must be an object with a \"type\"", pw));
        }
        const std::string type = part["type"].get<std::string>();
        if (type == "text") {
          parts.push_back({{"type", "text"}, {"text", part.value("text", json())}});
        } else if (type == "image_url") {
          parts.push_back(image_part(part, pw, limits));
          ++images;
        } else {
          throw bad_field(pw + ".type", fmt::format("'{}.type': '{}' is not supported (text or "
                                                    "image_url)",
                                                    pw, type));
        }
      }
      message["content"] = parts;
    } else {
      throw bad_field(where + ".content",
                      fmt::format("'{}.content' must be a string or an array of parts", where));
    }
    out.push_back(message);
  }
  if (images > limits.max_input_images) {
    throw ApiError(413, fmt::format("{} images in the request; this server takes at most {}",
                                    images, limits.max_input_images),
                   "messages");
  }
  return out;
}

// Decodes every input image: a bad one is a 400 naming its part (image[j] for the files of a
// multipart edit), a huge one a 413.
void check_images(const Job& job, const RequestLimits& limits, bool multipart = false) {
  for (std::size_t i = 0; i < job.messages.size(); ++i) {
    const auto& content = job.messages[i].content;
    for (std::size_t j = 0; j < content.size(); ++j) {
      const ContentPart& part = content[j];
      if (part.kind != ContentPart::Kind::kImage) continue;
      const std::string where = multipart ? fmt::format("image[{}]", j)
                                    : fmt::format("messages[{}].content[{}]", i, j);
      Image image;
      try {
        image = part.image_bytes.empty() ? read_image(part.image_path)
                                         : decode_image(part.image_bytes, where);
      } catch (const Error& e) {
        throw bad_field(where, part.image_bytes.empty()
                                   ? fmt::format("'{}': {}", where, e.what())
                                   : std::string(e.what()));  // decode_image names `where`
      }
      if (image.width * image.height > limits.max_image_pixels) {
        throw ApiError(413, fmt::format("'{}': {}x{} is larger than this server's limit of {} "
                                        "pixels",
                                        where, image.width, image.height,
                                        limits.max_image_pixels),
                       where);
      }
    }
  }
}

std::int64_t max_tokens(const json& v, const std::string& name, const RequestLimits& limits) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 1) {
    throw bad_field(name, fmt::format("'{}' must be a positive integer", name));
  }
  const std::int64_t n = v.get<std::int64_t>();
  if (n > limits.max_tokens) {
    throw bad_field(name, fmt::format("'{}' is {}; this server allows at most {}", name, n,
                                      limits.max_tokens));
  }
  return n;
}

std::int64_t image_count(const json& v) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 4) {
    throw bad_field("n", "'n' must be an integer from 1 to 4");
  }
  return v.get<std::int64_t>();
}

}  // namespace

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits) {
  const json v = parse_body(body);
  check_model(v, limits, /*required=*/true);
  if (!v.contains("messages")) throw bad_field("messages", "'messages' is required");
  ChatRequest r;
  json job = {{"id", "chat"}};
  job["messages"] = convert_messages(v["messages"], limits);
  std::optional<std::int64_t> tokens;
  bool stream_options = false;
  for (const auto& [key, value] : v.items()) {
    if (key == "model" || key == "messages") continue;
    if (key == "stream") {
      if (!value.is_boolean()) throw bad_field(key, "'stream' must be true or false");
      r.stream = value.get<bool>();
    } else if (key == "stream_options") {
      if (!value.is_object()) throw bad_field(key, "'stream_options' must be an object");
      for (const auto& [k, x] : value.items()) {
        if (k != "include_usage" || !x.is_boolean()) {
          throw bad_field("stream_options." + k, "only 'include_usage' (true/false) is supported");
        }
        r.include_usage = x.get<bool>();
      }
      stream_options = true;
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      if (tokens) throw bad_field(key, "give 'max_tokens' or 'max_completion_tokens', not both");
      tokens = max_tokens(value, key, limits);
    } else if (key == "n") {
      if (value != 1) throw bad_field("n", "'n' must be 1 (one answer per request)");
    } else if (key == "user") {
      if (!value.is_string()) throw bad_field(key, "'user' must be a string");
      r.user = value.get<std::string>();
    } else if (key == "modalities") {
      std::set<std::string> m;
      if (value.is_array()) {
        for (const auto& x : value) m.insert(x.is_string() ? x.get<std::string>() : "?");
      }
      if (m != std::set<std::string>{"text"} && m != std::set<std::string>{"text", "image"}) {
        throw bad_field(key, "'modalities' must be [\"text\"] or [\"text\", \"image\"]");
      }
      r.images = m.count("image") != 0;
    } else if (key == "size") {
      put_size(value, job, v);
    } else if (key == "job") {
      put_job_id(value, job);
    } else if (kImageOptions.count(key) || kTextOptions.count(key)) {
      job[key] = value;
    } else {
      throw bad_field(key, fmt::format("unknown field '{}' (docs/server.md lists the fields)", key));
    }
  }
  if (stream_options && !r.stream) {
    throw bad_field("stream_options", "'stream_options' needs \"stream\": true");
  }
  if (!r.images) {
    if (job.contains("max_images") && job["max_images"] != 0) {
      throw bad_field("max_images", "'max_images' needs \"modalities\": [\"text\", \"image\"]");
    }
    job["max_images"] = 0;
  }
  job["max_new_tokens"] = tokens.value_or(std::min(limits.default_max_tokens, limits.max_tokens));
  r.job = to_job(job);
  check_images(r.job, limits);
  return r;
}

namespace {

// The fields both image endpoints take (besides prompt, n and the images), into `job`.
void put_image_field(const std::string& key, const json& value, const json& request, json& job,
                     ImagesRequest& r) {
  if (key == "size") {
    put_size(value, job, request);
  } else if (key == "response_format") {
    if (value != "b64_json") {
      throw bad_field(key, "'response_format' must be \"b64_json\" (this server keeps no files "
                           "to link to)");
    }
  } else if (key == "user") {
    if (!value.is_string()) throw bad_field(key, "'user' must be a string");
  } else if (key == "job") {
    put_job_id(value, job);
  } else if (kImageOptions.count(key)) {
    job[key] = value;
    if (key == "seed") r.seed_given = true;
  } else {
    throw bad_field(key, fmt::format("unknown field '{}' (docs/server.md lists the fields)", key));
  }
}

// The job both image endpoints describe: the prompt as the user's message, n, and the fields.
ImagesRequest images_request(const json& v, const std::string& default_id) {
  const json& prompt = v["prompt"];
  if (!prompt.is_string() || prompt.get<std::string>().empty()) {
    throw bad_field("prompt", "'prompt' must be a non-empty string");
  }
  json job = {{"id", default_id}, {"messages", {{{"role", "user"}, {"content", prompt}}}}};
  ImagesRequest r;
  for (const auto& [key, value] : v.items()) {
    if (key == "model" || key == "prompt") continue;
    if (key == "n") {
      r.n = image_count(value);
    } else {
      put_image_field(key, value, v, job, r);
    }
  }
  r.job = to_job(job);
  if (r.seed_given) r.seed = *r.job.options.seed;
  return r;
}

}  // namespace

ImagesRequest parse_image_generation(const std::string& body, const RequestLimits& limits) {
  const json v = parse_body(body);
  check_model(v, limits, /*required=*/false);
  if (!v.contains("prompt")) throw bad_field("prompt", "'prompt' is required");
  return images_request(v, "image");
}

ImagesRequest parse_image_edit(const EditForm& form, const RequestLimits& limits) {
  json v = json::object();
  // Form values are text: numbers are read as the JSON a job file would hold.
  const std::set<std::string> integers = {"n", "seed", "steps", "width", "height"};
  for (const auto& [key, text] : form.fields) {
    if (v.contains(key)) throw bad_field(key, fmt::format("'{}' is given twice", key));
    if (key == "mask") throw bad_field(key, "'mask' is not supported (the edit is the prompt's)");
    if (integers.count(key) || key == "guidance") {
      try {
        std::size_t used = 0;
        if (integers.count(key)) {
          v[key] = std::stoll(text, &used);
        } else {
          v[key] = std::stod(text, &used);
        }
        if (used != text.size()) throw std::invalid_argument(key);
      } catch (const std::logic_error&) {
        throw bad_field(key, fmt::format("'{}' must be a number, got '{}'", key, text));
      }
    } else {
      v[key] = text;
    }
  }
  check_model(v, limits, /*required=*/false);
  if (!v.contains("prompt")) throw bad_field("prompt", "'prompt' is required");
  if (form.images.empty()) {
    throw bad_field("image", "an edit needs at least one 'image' file (multipart field image or "
                             "image[])");
  }
  if (static_cast<std::int64_t>(form.images.size()) > limits.max_input_images) {
    throw ApiError(413, fmt::format("{} images in the request; this server takes at most {}",
                                    form.images.size(), limits.max_input_images),
                   "image");
  }
  ImagesRequest r = images_request(v, "edit");
  // The references first, then the instruction (as `duogen edit` orders them).
  auto& content = r.job.messages.front().content;
  std::vector<ContentPart> parts;
  for (const auto& [name, bytes] : form.images) parts.push_back(image_bytes_part(bytes));
  content.insert(content.begin(), parts.begin(), parts.end());
  check_images(r.job, limits, /*multipart=*/true);
  return r;
}

}  // namespace duogen::server
