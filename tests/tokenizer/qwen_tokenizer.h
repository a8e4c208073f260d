// The real Qwen tokenizer the parity goldens were made from (../shared/models/qwen2-tokenizer,
// configurable with -DDUOGEN_QWEN_TOKENIZER_DIR). Loaded once per test binary: parsing the
// 11 MB tokenizer.json is the slow part of these tests.
#pragma once

#include <filesystem>

#include "tokenizer/bpe_tokenizer.h"

namespace duogen::testing {

std::filesystem::path qwen_tokenizer_dir();
// nullptr when the directory is absent (tests then GTEST_SKIP with the path in the message).
const tokenizer::BpeTokenizer* qwen_tokenizer();

}  // namespace duogen::testing

// Skips the current test when the Qwen tokenizer files are not present.
#define DUOGEN_REQUIRE_QWEN_TOKENIZER(tok)                                                   \
  const auto* tok = ::duogen::testing::qwen_tokenizer();                                    \
  if (tok == nullptr) GTEST_SKIP() << "no tokenizer.json in " << ::duogen::testing::qwen_tokenizer_dir()
