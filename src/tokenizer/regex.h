// A compiled PCRE2 pattern (UTF + UCP, JIT when available) used for the Split pre-tokenizer. HF
// `tokenizers` runs these patterns with Oniguruma; PCRE2 in UCP mode gives the same classes
// (\p{L}, \p{N}, \s) and supports the lookahead of the Qwen and GPT-2 patterns.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duogen::tokenizer {

class Regex {
 public:
  // pattern is a regular expression, or a literal string when literal is true. Throws
  // FormatError naming the pattern and the PCRE2 message when it does not compile.
  Regex(std::string_view pattern, bool literal);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Non-empty, non-overlapping matches [begin, end) in subject (valid UTF-8), left to right.
  void find_all(std::string_view subject, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
};

}  // namespace duogen::tokenizer
