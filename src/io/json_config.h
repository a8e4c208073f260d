// Typed access to JSON configuration files (Hugging Face config.json and friends) with errors
// that name the file and the key path, e.g. "model/config.json: 'text_config.hidden_size' must
// be an integer, got \"abc\"".
#pragma once

#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.h"

namespace duogen::io {

// Reads and parses a JSON file. Throws IoError if it cannot be read, FormatError if malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

// A JSON object plus where it came from. Accessors check types; `get` falls back to the given
// default when the key is absent or null (HF writes absent options as null).
class JsonObject {
 public:
  JsonObject(nlohmann::json value, std::string file, std::string path = "");
  static JsonObject from_file(const std::filesystem::path& path);

  bool has(std::string_view key) const;
  template <typename T>
  T get(std::string_view key, T fallback) const {
    const nlohmann::json* v = find(key);
    return v == nullptr ? fallback : convert<T>(*v, key);
  }
  template <typename T>
  T require(std::string_view key) const {
    const nlohmann::json* v = find(key);
    DUOGEN_CHECK(v != nullptr, FormatError, "{}: missing required key '{}'", file_,
                 qualified(key));
    return convert<T>(*v, key);
  }
  // The nested object under `key`, or nullopt when absent/null. Throws if it is not an object.
  std::optional<JsonObject> child(std::string_view key) const;
  const nlohmann::json& json() const { return value_; }
  const std::string& file() const { return file_; }
  // `key` with this object's path in front ("text_config.hidden_act").
  std::string key_path(std::string_view key) const { return qualified(key); }
  // Throws FormatError "FILE: 'KEY' = VALUE is not supported: WHY" (the value as JSON, or
  // "absent" when the key is not there).
  [[noreturn]] void unsupported(std::string_view key, std::string_view why) const;

 private:
  const nlohmann::json* find(std::string_view key) const;
  std::string qualified(std::string_view key) const;
  [[noreturn]] void type_error(std::string_view key, const char* expected,
                               const nlohmann::json& got) const;

  template <typename T>
  T convert(const nlohmann::json& v, std::string_view key) const {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) type_error(key, "a boolean", v);
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) type_error(key, "an integer", v);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) type_error(key, "a number", v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) type_error(key, "a string", v);
    } else {
      // Containers: let nlohmann convert, but report failures as FormatError.
      try {
        return v.get<T>();
      } catch (const nlohmann::json::exception&) {
        type_error(key, "a list of the right element type", v);
      }
    }
    return v.get<T>();
  }

  nlohmann::json value_;
  std::string file_;
  std::string path_;  // "" at the top level, else "text_config." etc.
};

// A key a config loader knows but that has no effect on inference, and why (e.g. dropout rates,
// initializer_range, the storage dtype). Each model family lists its keys in its config.cpp;
// docs/config_keys.md is the table of every key.
struct IgnoredKey {
  std::string_view key;
  std::string_view reason;
};

// Keys of every Hugging Face config.json that never change the network: transformers'
// PreTrainedConfig bookkeeping and the generation parameters it moves to generation_config.
std::span<const IgnoredKey> transformers_common_keys();
// Keys diffusers' ConfigMixin writes into every config.json (`_class_name`, `_diffusers_version`,
// ...).
std::span<const IgnoredKey> diffusers_common_keys();

// Keys of `object` in none of `read` (the keys the loader reads: honoured, or refused by its own
// checks) and `ignored`, qualified with the object's path, in the file's order.
std::vector<std::string> unknown_keys(const JsonObject& object,
                                      std::span<const std::string_view> read,
                                      std::initializer_list<std::span<const IgnoredKey>> ignored);
// One warning naming the file and the unknown keys, if there are any. transformers and diffusers
// ignore keys they do not know as well, so these are not errors; but a key duogen does not know
// may describe a network it does not implement.
void warn_unknown_keys(const JsonObject& object, const std::vector<std::string>& keys);

}  // namespace duogen::io
