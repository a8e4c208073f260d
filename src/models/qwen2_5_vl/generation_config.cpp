#include "models/qwen2_5_vl/generation_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::qwen2_5_vl {

// The config's eos ids plus generation_config.json's (the hub lists <|endoftext|> there too).
std::vector<std::int64_t> stop_token_ids(const std::filesystem::path& dir, const Config& config) {
  std::vector<std::int64_t> stops = config.eos_token_ids;
  const auto path = dir / "generation_config.json";
  if (!std::filesystem::exists(path)) return stops;
  const nlohmann::json j = io::read_json_file(path);
  auto add = [&](const nlohmann::json& id) {
    DUOGEN_CHECK(id.is_number_integer(), FormatError, "{}: eos_token_id must be integers",
                 path.string());
    const auto v = id.get<std::int64_t>();
    if (std::find(stops.begin(), stops.end(), v) == stops.end()) stops.push_back(v);
  };
  if (const auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    if (it->is_array()) {
      for (const auto& id : *it) add(id);
    } else {
      add(*it);
    }
  }
  return stops;
}

}  // namespace duogen::qwen2_5_vl
