// tokenizer.json configurations the BPE tokenizer does not support are rejected with a
// FormatError that names the file and the field.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "testing/test_paths.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/load_tokenizer.h"

namespace duogen::tokenizer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json base_json() {
  std::ifstream in(testing::data_dir() / "tokenizer/gpt2_style/tokenizer.json");
  return json::parse(in);
}

// The FormatError message for base_json() edited by edit, or "" if it loads.
std::string load_error(const std::function<void(json&)>& edit) {
  json j = base_json();
  edit(j);
  const fs::path dir = testing::make_temp_dir("tokjson");
  std::ofstream(dir / "tokenizer.json") << j.dump();
  std::string message;
  try {
    BpeTokenizer::from_file(dir / "tokenizer.json");
  } catch (const FormatError& e) {
    message = e.what();
  }
  fs::remove_all(dir);
  return message;
}

TEST(TokenizerJson, UnsupportedFieldsAreNamed) {
  const struct {
    std::function<void(json&)> edit;
    const char* field;
  } cases[] = {
      {[](json& j) { j["model"]["type"] = "WordPiece"; }, "model.type"},
      {[](json& j) { j["model"]["dropout"] = 0.1; }, "model.dropout"},
      {[](json& j) { j["model"]["byte_fallback"] = true; }, "model.byte_fallback"},
      {[](json& j) { j["model"]["continuing_subword_prefix"] = "##"; }, "model.continuing_subword_prefix"},
      {[](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "normalizer"},
      {[](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, "pre_tokenizer"},
      {[](json& j) { j["pre_tokenizer"] = nullptr; }, "pre_tokenizer"},
      {[](json& j) { j["decoder"] = {{"type", "Metaspace"}}; }, "decoder"},
      {[](json& j) { j["post_processor"] = {{"type", "BertProcessing"}}; }, "post_processor"},
      {[](json& j) { j["model"]["merges"][0] = "onlyonetoken"; }, "model.merges[0]"},
      {[](json& j) { j["model"]["merges"][0] = "nosuchtoken x"; }, "merge 0"},
      {[](json& j) { j["added_tokens"][0].erase("content"); }, "added_tokens[0]"},
      {[](json& j) {
         j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
       },
       "does not compile"},
  };
  for (const auto& c : cases) {
    const std::string message = load_error(c.edit);
    EXPECT_NE(message.find(c.field), std::string::npos) << c.field << ": got \"" << message << "\"";
    EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  }
}

TEST(TokenizerJson, MissingAndMalformedFiles) {
  const fs::path dir = testing::make_temp_dir("tokjson");
  EXPECT_THROW(load_tokenizer(dir), IoError);  // neither tokenizer.json nor tokenizer.model
  EXPECT_THROW(load_tokenizer(dir / "absent"), IoError);
  std::ofstream(dir / "tokenizer.json") << "{not json";
  EXPECT_THROW(load_tokenizer(dir), FormatError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace duogen::tokenizer
