// Pre-tokenizers of byte-level BPE tokenizer.json files: `Split` (a regex or literal with one of
// HF's five split behaviours) and `ByteLevel` (optional prefix space, optional GPT-2 regex), alone
// or in a `Sequence`. They cut normalized text into pieces that BPE encodes independently. The
// byte-to-unicode mapping of ByteLevel is not applied here: BPE works on raw bytes directly.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace duogen::tokenizer {

// HF `SplitDelimiterBehavior`.
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct SplitStep {
  Regex regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the pieces are the text between matches, the matches the delimiters
};

struct ByteLevelStep {
  bool add_prefix_space = false;  // prepend ' ' to a piece that does not start with one
  bool use_regex = true;          // split with the GPT-2 pattern
};

class PreTokenizer {
 public:
  // The GPT-2 pattern that ByteLevel(use_regex=true) applies.
  static constexpr std::string_view kGpt2Pattern =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

  void add_split(SplitStep step);
  void add_byte_level(ByteLevelStep step);

  // Pieces of text, in order. They view text or strings held in storage (for prefix spaces),
  // which must outlive them.
  void split(std::string_view text, std::vector<std::string_view>& pieces,
             std::deque<std::string>& storage) const;

 private:
  struct Step {
    enum class Kind { kSplit, kByteLevel } kind;
    std::size_t index;  // into splits_ or byte_levels_
  };
  void apply_split(const SplitStep& step, std::vector<std::string_view>& pieces) const;
  void apply_byte_level(const ByteLevelStep& step, std::vector<std::string_view>& pieces,
                        std::deque<std::string>& storage) const;

  std::vector<Step> steps_;
  std::vector<SplitStep> splits_;
  std::vector<ByteLevelStep> byte_levels_;
  Regex gpt2_regex_{kGpt2Pattern, /*literal=*/false};
};

}  // namespace duogen::tokenizer
