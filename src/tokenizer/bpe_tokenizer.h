// Byte-level BPE tokenizer loaded from a Hugging Face tokenizer.json (Qwen2/2.5/2.5-VL/3, GPT-2
// style). The pipeline follows HF `tokenizers` step by step so that ids are identical:
//   raw text -> split out added tokens (normalized=false) -> normalize the rest (NFC)
//   -> split out added tokens (normalized=true) -> pre-tokenize (Split regex, ByteLevel)
//   -> BPE per pre-token.
#pragma once

#include <filesystem>
#include <memory>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"

namespace duogen::tokenizer {

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeTokenizerConfig config);
  static std::unique_ptr<BpeTokenizer> from_file(const std::filesystem::path& tokenizer_json);

  std::vector<std::int32_t> encode(std::string_view text, bool add_special = false) const override;
  std::string decode_bytes(const std::vector<std::int32_t>& ids,
                           bool skip_special = false) const override;
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(std::int32_t id) const override;
  std::int32_t vocab_size() const override { return vocab_size_; }
  bool is_special(std::int32_t id) const override;
  std::vector<std::int32_t> special_ids() const override;

 private:
  // Encodes text that contains no raw-matched added token.
  void encode_segment(std::string_view text, std::vector<std::int32_t>& out) const;

  std::string source_;
  AddedVocabulary added_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  BpeModel model_;
  std::vector<std::int32_t> prefix_ids_, suffix_ids_;
  std::int32_t vocab_size_ = 0;
  // What each id decodes to (HF ByteLevel decoder: the byte-level characters mapped back to
  // bytes, or the token's own UTF-8 when some character is not in the table); empty for gaps.
  std::vector<std::string> id_bytes_;
};

}  // namespace duogen::tokenizer
