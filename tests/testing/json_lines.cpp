#include "testing/json_lines.h"

#include <fstream>
#include <stdexcept>
#include <string>

namespace duogen::testing {

std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<nlohmann::json> rows;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(path.string() + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  return rows;
}

}  // namespace duogen::testing
