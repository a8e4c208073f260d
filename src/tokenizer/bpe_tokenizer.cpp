#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <deque>

#include "core/check.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace duogen::tokenizer {

BpeTokenizer::BpeTokenizer(BpeTokenizerConfig config)
    : source_(config.source),
      normalizer_(std::move(config.normalizer)),
      pre_tokenizer_(std::move(config.pre_tokenizer)),
      model_(std::move(config.vocab), config.merges, config.bpe, config.source),
      prefix_ids_(std::move(config.prefix_ids)),
      suffix_ids_(std::move(config.suffix_ids)) {
  vocab_size_ = model_.id_limit();
  for (AddedToken& token : config.added_tokens) {
    DUOGEN_CHECK(token.id >= 0, FormatError, "{}: added token {:?} has negative id {}", source_,
                 token.content, token.id);
    vocab_size_ = std::max(vocab_size_, token.id + 1);
    // HF matches a normalized token by its normalized content, and that is also what it
    // decodes to (e.g. "ＡＢ" under NFKC is matched and decoded as "AB").
    if (token.normalized) token.content = normalizer_.apply(token.content);
    added_.add(std::move(token));
  }
  const ByteLevelTable table;
  auto bytes_of = [&](const std::string& token) { return table.decode(token).value_or(token); };
  id_bytes_.resize(static_cast<std::size_t>(vocab_size_));
  for (std::int32_t id = 0; id < vocab_size_; ++id) {
    if (const AddedToken* added = added_.find(id)) {
      id_bytes_[id] = bytes_of(added->content);
    } else if (const std::string* token = model_.id_to_token(id)) {
      id_bytes_[id] = bytes_of(*token);
    }
  }
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  return std::make_unique<BpeTokenizer>(read_tokenizer_json(tokenizer_json));
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text, bool add_special) const {
  require_valid_utf8(text);
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 4 + prefix_ids_.size() + suffix_ids_.size());
  if (add_special) ids.insert(ids.end(), prefix_ids_.begin(), prefix_ids_.end());
  std::vector<Segment> segments;
  added_.split(text, /*normalized=*/false, segments);
  for (const Segment& segment : segments) {
    if (segment.id) {
      ids.push_back(*segment.id);
      continue;
    }
    const std::string_view raw = text.substr(segment.begin, segment.end - segment.begin);
    if (normalizer_.is_identity()) {
      encode_segment(raw, ids);
      continue;
    }
    const std::string normalized = normalizer_.apply(raw);
    if (!added_.has_normalized_tokens()) {
      encode_segment(normalized, ids);
      continue;
    }
    std::vector<Segment> inner;
    added_.split(normalized, /*normalized=*/true, inner);
    for (const Segment& piece : inner) {
      if (piece.id) {
        ids.push_back(*piece.id);
      } else {
        encode_segment(std::string_view(normalized).substr(piece.begin, piece.end - piece.begin), ids);
      }
    }
  }
  if (add_special) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

void BpeTokenizer::encode_segment(std::string_view text, std::vector<std::int32_t>& out) const {
  std::vector<std::string_view> pieces;
  std::deque<std::string> storage;
  pre_tokenizer_.split(text, pieces, storage);
  model_.encode_words(pieces, out);
}

std::string BpeTokenizer::decode_bytes(const std::vector<std::int32_t>& ids, bool skip_special) const {
  std::string out;
  for (const std::int32_t id : ids) {
    if (id < 0 || id >= vocab_size_) continue;
    if (skip_special && is_special(id)) continue;
    out += id_bytes_[static_cast<std::size_t>(id)];
  }
  return out;
}

std::optional<std::int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  if (const auto id = added_.find(token)) return id;
  return model_.token_to_id(token);
}

std::optional<std::string> BpeTokenizer::id_to_token(std::int32_t id) const {
  if (const AddedToken* added = added_.find(id)) return added->content;
  if (const std::string* token = model_.id_to_token(id)) return *token;
  return std::nullopt;
}

bool BpeTokenizer::is_special(std::int32_t id) const {
  const AddedToken* added = added_.find(id);
  return added != nullptr && added->special;
}

std::vector<std::int32_t> BpeTokenizer::special_ids() const {
  std::vector<std::int32_t> ids;
  for (const AddedToken& token : added_.tokens()) {
    if (token.special) ids.push_back(token.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace duogen::tokenizer
