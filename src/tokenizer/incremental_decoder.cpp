#include "tokenizer/incremental_decoder.h"

#include "tokenizer/utf8.h"

namespace duogen::tokenizer {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

}  // namespace

std::string IncrementalDecoder::push(std::int32_t id) {
  window_.push_back(id);
  const std::vector<std::int32_t> emitted(window_.begin(), window_.begin() + read_);
  const std::string before = tokenizer_.decode_bytes(emitted, skip_special_);
  const std::string all = tokenizer_.decode_bytes(window_, skip_special_);
  // Hold everything back while the new text may still change: an incomplete UTF-8 sequence at
  // the end (byte-level BPE), or a decoder that already replaced a partial character with
  // U+FFFD or rewrote the context (SentencePiece byte pieces). finish() releases it.
  if (all.size() < before.size() || all.compare(0, before.size(), before) != 0) return {};
  const std::string_view fresh = std::string_view(all).substr(before.size());
  if (incomplete_utf8_tail(fresh) > 0 || fresh.ends_with(kReplacementCharacter)) return {};
  // The ids just emitted become the context of the next step; older ones are dropped.
  window_.erase(window_.begin(), window_.begin() + read_);
  read_ = window_.size();
  return replace_invalid_utf8(fresh);
}

std::string IncrementalDecoder::finish() {
  const std::vector<std::int32_t> emitted(window_.begin(), window_.begin() + read_);
  const std::string before = tokenizer_.decode_bytes(emitted, skip_special_);
  const std::string all = tokenizer_.decode_bytes(window_, skip_special_);
  window_.clear();
  read_ = 0;
  if (all.size() <= before.size()) return {};
  return replace_invalid_utf8(std::string_view(all).substr(before.size()));
}

}  // namespace duogen::tokenizer
