// The tokenizer interface the engine uses: byte-level BPE from tokenizer.json (Qwen2/2.5/3,
// GPT-2 style) and SentencePiece tokenizer.model (Llama/LLaVA family) both implement it.
// load_tokenizer() (load_tokenizer.h) picks one for a model directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace duogen::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Ids of text (valid UTF-8, else InvalidArgument). Special and added tokens written in the
  // text are recognised. add_special adds what the tokenizer's post-processor adds around a
  // single sequence (BOS/EOS); Qwen adds nothing.
  virtual std::vector<std::int32_t> encode(std::string_view text, bool add_special = false) const = 0;

  // The bytes ids stand for, concatenated, before UTF-8 repair: a token can end in the middle of
  // a character. Ids the tokenizer does not know are skipped, as HF does.
  virtual std::string decode_bytes(const std::vector<std::int32_t>& ids,
                                   bool skip_special = false) const = 0;

  // decode_bytes with invalid UTF-8 replaced like Python's errors="replace".
  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special = false) const;

  virtual std::optional<std::int32_t> token_to_id(std::string_view token) const = 0;
  // The token string (byte-level form for BPE, piece for SentencePiece); nullopt if unknown.
  virtual std::optional<std::string> id_to_token(std::int32_t id) const = 0;
  // One past the largest id (added tokens included).
  virtual std::int32_t vocab_size() const = 0;
  virtual bool is_special(std::int32_t id) const = 0;
  // Ids of the special tokens, ascending.
  virtual std::vector<std::int32_t> special_ids() const = 0;
};

}  // namespace duogen::tokenizer
