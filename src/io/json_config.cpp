#include "io/json_config.h"

#include <fstream>
#include <sstream>

namespace duogen::io {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open (missing or unreadable)", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!j.is_discarded(), FormatError, "{}: not valid JSON", path.string());
  return j;
}

JsonObject::JsonObject(nlohmann::json value, std::string file, std::string path)
    : value_(std::move(value)), file_(std::move(file)), path_(std::move(path)) {
  DUOGEN_CHECK(value_.is_object(), FormatError, "{}: '{}' must be a JSON object", file_,
               path_.empty() ? "(top level)" : path_.substr(0, path_.size() - 1));
}

JsonObject JsonObject::from_file(const std::filesystem::path& path) {
  return JsonObject(read_json_file(path), path.string());
}

const nlohmann::json* JsonObject::find(std::string_view key) const {
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonObject::has(std::string_view key) const { return find(key) != nullptr; }

std::string JsonObject::qualified(std::string_view key) const { return path_ + std::string(key); }

void JsonObject::type_error(std::string_view key, const char* expected,
                            const nlohmann::json& got) const {
  DUOGEN_FAIL(FormatError, "{}: '{}' must be {}, got {}", file_, qualified(key), expected,
              got.dump());
}

std::optional<JsonObject> JsonObject::child(std::string_view key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) type_error(key, "an object", *v);
  return JsonObject(*v, file_, qualified(key) + ".");
}

}  // namespace duogen::io
