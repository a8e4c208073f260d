// Added tokens of tokenizer.json (`added_tokens`): strings matched in the input before the model
// sees it, with HF `tokenizers` semantics. Tokens with normalized=false are matched on the raw
// text; normalized=true tokens are matched after normalization. Matching is leftmost-longest
// (the aho-corasick LeftmostLongest of HF); lstrip/rstrip absorb adjacent whitespace and
// single_word rejects matches inside a word.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace duogen::tokenizer {

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = false;      // dropped by decode(skip_special=true)
  bool normalized = false;   // matched after normalization instead of on the raw text
  bool single_word = false;  // only matches when not adjacent to a word character
  bool lstrip = false;       // the match extends over whitespace on its left
  bool rstrip = false;       // the match extends over whitespace on its right
};

// A piece of input: an added token (id set) or text for the model (id empty).
struct Segment {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::optional<std::int32_t> id;
};

class AddedVocabulary {
 public:
  void add(AddedToken token);

  // Cuts text into segments; with normalized=false the raw-text tokens are matched, otherwise
  // the normalized ones. Empty text gives no segments.
  void split(std::string_view text, bool normalized, std::vector<Segment>& out) const;
  bool has_normalized_tokens() const { return !normalized_.empty(); }

  const AddedToken* find(std::int32_t id) const;
  std::optional<std::int32_t> find(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Token indices bucketed by first byte, longest content first, for one matching set.
  struct MatchSet {
    std::vector<std::vector<std::size_t>> by_first_byte = std::vector<std::vector<std::size_t>>(256);
    bool empty() const { return count == 0; }
    std::size_t count = 0;
  };
  // The longest token of set starting at pos, if any.
  const AddedToken* match_at(const MatchSet& set, std::string_view text, std::size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::int32_t, std::size_t> by_id_;
  std::unordered_map<std::string, std::size_t> by_content_;
  MatchSet raw_;
  MatchSet normalized_;
};

}  // namespace duogen::tokenizer
