#include "tokenizer/added_vocabulary.h"

#include <utf8proc.h>

#include <algorithm>

#include "core/check.h"

namespace duogen::tokenizer {
namespace {

// Decodes the code point that starts at i (text is valid UTF-8) and its byte length.
std::pair<char32_t, std::size_t> code_point_at(std::string_view text, std::size_t i) {
  utf8proc_int32_t cp = 0;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                  static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
  return {static_cast<char32_t>(cp), static_cast<std::size_t>(n > 0 ? n : 1)};
}

// Start of the code point that ends at byte offset end (> 0).
std::size_t previous_code_point(std::string_view text, std::size_t end) {
  std::size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

// Rust's char::is_whitespace: the Unicode White_Space property.
bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Rust's char::is_alphanumeric, approximated by the general categories L* and N*.
bool is_alphanumeric(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

}  // namespace

void AddedVocabulary::add(AddedToken token) {
  DUOGEN_CHECK(!token.content.empty(), InvalidArgument, "added token {} has empty content",
               token.id);
  const std::size_t index = tokens_.size();
  by_id_[token.id] = index;
  by_content_[token.content] = index;
  MatchSet& set = token.normalized ? normalized_ : raw_;
  auto& bucket = set.by_first_byte[static_cast<unsigned char>(token.content[0])];
  bucket.push_back(index);
  std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t a, std::size_t b) {
    const std::size_t la = a == index ? token.content.size() : tokens_[a].content.size();
    const std::size_t lb = b == index ? token.content.size() : tokens_[b].content.size();
    return la > lb;
  });
  ++set.count;
  tokens_.push_back(std::move(token));
}

const AddedToken* AddedVocabulary::match_at(const MatchSet& set, std::string_view text,
                                            std::size_t pos) const {
  for (const std::size_t index : set.by_first_byte[static_cast<unsigned char>(text[pos])]) {
    const AddedToken& token = tokens_[index];
    if (text.compare(pos, token.content.size(), token.content) == 0) return &token;
  }
  return nullptr;
}

void AddedVocabulary::split(std::string_view text, bool normalized,
                            std::vector<Segment>& out) const {
  if (text.empty()) return;
  const MatchSet& set = normalized ? normalized_ : raw_;
  if (set.empty()) {
    out.push_back({0, text.size(), std::nullopt});
    return;
  }
  // HF `AddedVocabulary::find_matches`: the matcher scans on from the end of each raw match;
  // lstrip/rstrip only widen the emitted span.
  std::size_t emitted = 0;  // end of what has been emitted so far
  std::size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* token = match_at(set, text, pos);
    if (token == nullptr) {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    std::size_t stop = pos + token->content.size();
    pos = stop;
    if (token->single_word) {
      const bool space_before =
          start == 0 || !is_alphanumeric(code_point_at(text, previous_code_point(text, start)).first);
      const bool space_after = stop == text.size() || !is_alphanumeric(code_point_at(text, stop).first);
      if (!space_before || !space_after) continue;
    }
    if (token->lstrip) {
      std::size_t left = start;
      while (left > 0) {
        const std::size_t prev = previous_code_point(text, left);
        if (!is_whitespace(code_point_at(text, prev).first)) break;
        left = prev;
      }
      start = std::max(left, emitted);
    }
    if (token->rstrip) {
      while (stop < text.size()) {
        const auto [cp, len] = code_point_at(text, stop);
        if (!is_whitespace(cp)) break;
        stop += len;
      }
    }
    if (emitted < start) out.push_back({emitted, start, std::nullopt});
    out.push_back({start, stop, token->id});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({emitted, text.size(), std::nullopt});
}

const AddedToken* AddedVocabulary::find(std::int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<std::int32_t> AddedVocabulary::find(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

}  // namespace duogen::tokenizer
