// Reading a Hugging Face tokenizer.json whose model is byte-level BPE. Every field that changes
// the ids is read and either honoured or rejected with a FormatError that names the file and the
// field, so an unsupported tokenizer never silently produces different ids.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace duogen::tokenizer {

struct BpeTokenizerConfig {
  std::string source;  // the file, for messages
  std::vector<std::pair<std::string, std::int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  BpeOptions bpe;
  std::vector<AddedToken> added_tokens;
  std::vector<NormalizationForm> normalizer;  // empty: none
  PreTokenizer pre_tokenizer;
  // Ids a TemplateProcessing post-processor puts around a single sequence (add_special).
  std::vector<std::int32_t> prefix_ids;
  std::vector<std::int32_t> suffix_ids;
};

BpeTokenizerConfig read_tokenizer_json(const std::filesystem::path& path);

}  // namespace duogen::tokenizer
