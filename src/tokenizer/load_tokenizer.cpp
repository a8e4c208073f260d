#include "tokenizer/load_tokenizer.h"

#include "core/check.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace duogen::tokenizer {

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(path)) {
    if (path.extension() == ".json") return BpeTokenizer::from_file(path);
    if (path.extension() == ".model") return std::make_unique<SentencePieceTokenizer>(path);
    DUOGEN_FAIL(InvalidArgument, "{}: not a tokenizer file (expected tokenizer.json or .model)",
                path.string());
  }
  DUOGEN_CHECK(fs::is_directory(path), IoError, "{}: no such tokenizer directory", path.string());
  if (fs::exists(path / "tokenizer.json")) return BpeTokenizer::from_file(path / "tokenizer.json");
  if (fs::exists(path / "tokenizer.model")) {
    return std::make_unique<SentencePieceTokenizer>(path / "tokenizer.model");
  }
  DUOGEN_FAIL(IoError, "{}: neither tokenizer.json nor tokenizer.model found", path.string());
}

}  // namespace duogen::tokenizer
