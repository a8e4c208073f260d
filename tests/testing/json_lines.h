// Reading the JSON Lines goldens under tests/data.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

namespace duogen::testing {

// Every line of path parsed as JSON; throws std::runtime_error naming the file and line.
std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path);

}  // namespace duogen::testing
