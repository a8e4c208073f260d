#include "tokenizer/qwen_tokenizer.h"

#include <memory>

namespace duogen::testing {

std::filesystem::path qwen_tokenizer_dir() { return DUOGEN_QWEN_TOKENIZER_DIR; }

const tokenizer::BpeTokenizer* qwen_tokenizer() {
  static const std::unique_ptr<tokenizer::BpeTokenizer> tok = [] {
    const auto path = qwen_tokenizer_dir() / "tokenizer.json";
    return std::filesystem::exists(path) ? tokenizer::BpeTokenizer::from_file(path) : nullptr;
  }();
  return tok.get();
}

}  // namespace duogen::testing
