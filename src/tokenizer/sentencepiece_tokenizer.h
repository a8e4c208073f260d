// SentencePiece tokenizer.model (Llama / LLaVA family) behind the Tokenizer interface, through
// libsentencepiece. Control symbols (<s>, </s>, ...) written in the text are split out first
// and encoded as their ids, as HF does for these models; the text between them goes to
// SentencePiece unchanged.
#pragma once

#include <filesystem>
#include <memory>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace duogen::tokenizer {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws IoError when the file cannot be read, FormatError when it is not a model.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file);
  ~SentencePieceTokenizer() override;

  // add_special prepends BOS when the model has one (what Llama's HF tokenizer does).
  std::vector<std::int32_t> encode(std::string_view text, bool add_special = false) const override;
  std::string decode_bytes(const std::vector<std::int32_t>& ids,
                           bool skip_special = false) const override;
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(std::int32_t id) const override;
  std::int32_t vocab_size() const override;
  bool is_special(std::int32_t id) const override;
  std::vector<std::int32_t> special_ids() const override;

  const sentencepiece::SentencePieceProcessor& processor() const { return *processor_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  AddedVocabulary control_;  // control symbols, matched on the raw text
};

}  // namespace duogen::tokenizer
