// The BPE model of a byte-level tokenizer.json: vocab, ranked merges, and the merge loop of HF
// `tokenizers` (lowest merge rank first, leftmost on ties). It works on the raw bytes of a
// pre-token: byte b starts as the vocab id of its byte-level character, and merges are looked up
// by id pair, so no byte-level strings are built while encoding.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/merge_table.h"

namespace duogen::tokenizer {

struct BpeOptions {
  std::optional<std::string> unk_token;  // replaces bytes missing from the vocab; else dropped
  bool fuse_unk = false;                 // consecutive unknowns become one unk token
  bool ignore_merges = false;            // a pre-token found whole in the vocab is one token
  std::size_t cache_capacity = 10000;    // pre-tokens remembered (HF's default capacity)
};

class BpeModel {
 public:
  // vocab: token string (byte-level form) -> id. merges: pairs of token strings in rank order.
  // Throws FormatError (prefixed with `where`) when a merge or the unk token is not in the vocab.
  BpeModel(std::vector<std::pair<std::string, std::int32_t>> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& where);

  // Appends the ids of each pre-token (raw bytes), in order. The word cache is locked once per
  // call, so concurrent callers are serialized.
  void encode_words(const std::vector<std::string_view>& words, std::vector<std::int32_t>& out) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  // The byte-level string of id, or nullptr when id is not in the vocab.
  const std::string* id_to_token(std::int32_t id) const;
  std::size_t vocab_size() const { return vocab_.size(); }
  // One past the largest id in the vocab.
  std::int32_t id_limit() const { return static_cast<std::int32_t>(id_to_token_.size()); }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using StringMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;
  using Cache = std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>>;

  void merge_word(std::string_view bytes, std::vector<std::int32_t>& out) const;

  StringMap vocab_;
  std::vector<const std::string*> id_to_token_;  // points into vocab_ keys; null for gaps
  MergeTable merges_;
  ByteLevelTable byte_level_;                 // for ignore_merges' whole-word lookup
  std::array<std::int32_t, 256> byte_ids_{};  // vocab id of each byte's character, -1 if absent
  std::optional<std::int32_t> unk_id_;
  BpeOptions options_;
  // Pre-token -> ids. Filled until cache_capacity entries, then only read (as HF does).
  mutable std::mutex cache_mutex_;
  mutable Cache cache_;
};

}  // namespace duogen::tokenizer
