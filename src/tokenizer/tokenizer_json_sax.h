// Parses tokenizer.json in one pass, taking `model.vocab` and `model.merges` (about 300k entries
// for Qwen) straight into vectors instead of building them as JSON values: building that DOM
// was most of the load time. Everything else becomes an ordinary nlohmann::json, with the two
// captured members set to null.
#pragma once

#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace duogen::tokenizer {

struct CapturedModel {
  bool has_vocab = false;
  bool has_merges = false;
  std::vector<std::pair<std::string, std::int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  // The first entry that is not a token -> integer id, or not "a b" / ["a", "b"]:
  // (field, problem) for the FormatError.
  std::optional<std::pair<std::string, std::string>> error;
};

// Returns false on a JSON syntax error (message in syntax_error).
bool parse_tokenizer_json(std::istream& in, nlohmann::json& rest, CapturedModel& model,
                          std::string& syntax_error);

}  // namespace duogen::tokenizer
