// UTF-8 helpers: the replacement rule is checked against Python through the decode goldens
// (bpe_parity_test); these cases pin the streaming tail rule, which has no reference library.
#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace duogen::tokenizer {
namespace {

TEST(Utf8, IncompleteTailIsAProperPrefixOfAValidSequence) {
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xE4\xB8\xAD"), 0u);  // complete 中
  EXPECT_EQ(incomplete_utf8_tail("a\xE4"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("a\xE4\xB8"), 2u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98"), 3u);
  // Bytes that no continuation can make valid are not held back.
  EXPECT_EQ(incomplete_utf8_tail("a\xE0\x80"), 0u);  // overlong
  EXPECT_EQ(incomplete_utf8_tail("a\xED\xA0"), 0u);  // surrogate
  EXPECT_EQ(incomplete_utf8_tail("a\xF4\x90"), 0u);  // above U+10FFFF
  EXPECT_EQ(incomplete_utf8_tail("a\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xFF"), 0u);
}

TEST(Utf8, ValidPrefixStopsAtTheFirstBadSequence) {
  EXPECT_EQ(valid_utf8_prefix("h\xC3\xA9llo"), 6u);
  EXPECT_EQ(valid_utf8_prefix("ab\xC3"), 2u);
  EXPECT_EQ(valid_utf8_prefix("ab\xC0\xAF"), 2u);
}

TEST(Utf8, ReplacementKeepsValidTextAndIsIdempotent) {
  const std::string mixed = "a\xF0\x9F\x98 b\xE4\xB8\xAD\xFF\xED\xA0\x80z";
  const std::string once = replace_invalid_utf8(mixed);
  EXPECT_EQ(valid_utf8_prefix(once), once.size());
  EXPECT_EQ(replace_invalid_utf8(once), once);
  EXPECT_EQ(replace_invalid_utf8("plain ascii \xE4\xB8\xAD"), "plain ascii \xE4\xB8\xAD");
}

}  // namespace
}  // namespace duogen::tokenizer
