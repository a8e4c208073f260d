// Streaming detokenization: feed ids one at a time as they are generated and get the text that
// is final so far. Bytes that may still be completed by later tokens (an incomplete UTF-8
// sequence at the end) are held back; everything emitted plus finish() equals
// tokenizer.decode(all ids).
//
// Works for any Tokenizer, including SentencePiece whose pieces do not decode independently
// (the word-boundary space of a piece depends on what precedes it): like text-generation-
// inference, it decodes a short window that starts one step back and emits only the difference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace duogen::tokenizer {

class IncrementalDecoder {
 public:
  // tokenizer must outlive the decoder.
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // Text that became final with id (possibly empty), invalid UTF-8 replaced by U+FFFD.
  std::string push(std::int32_t id);
  // The held-back rest, for the end of the stream; the decoder is then empty again.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<std::int32_t> window_;  // ids from the context start on
  std::size_t read_ = 0;              // window_[0, read_) has been emitted already
};

}  // namespace duogen::tokenizer
