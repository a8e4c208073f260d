#include "tokenizer/utf8.h"

#include <cstdint>

#include "core/check.h"

namespace duogen::tokenizer {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Outcome of reading one sequence at a position.
struct Step {
  std::size_t length;  // bytes consumed: a whole character, or the maximal invalid subpart
  bool valid;          // a well-formed character
  bool truncated;      // a valid proper prefix that ran into the end of the input
};

// The well-formed byte sequences of Unicode Table 3-7: the lead byte fixes the length and the
// allowed range of the second byte; later bytes are always 80..BF.
Step read_sequence(std::string_view s, std::size_t i) {
  const auto lead = static_cast<std::uint8_t>(s[i]);
  if (lead < 0x80) return {1, true, false};
  std::size_t need = 0;
  std::uint8_t lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {1, false, false};  // 80..C1, F5..FF never start a sequence
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return {k, false, true};
    const auto b = static_cast<std::uint8_t>(s[i + k]);
    if (b < lo || b > hi) return {k, false, false};
    lo = 0x80;
    hi = 0xBF;
  }
  return {need + 1, true, false};
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::size_t valid_utf8_prefix(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const Step step = read_sequence(bytes, i);
    if (!step.valid) break;
    i += step.length;
  }
  return i;
}

void require_valid_utf8(std::string_view text) {
  const std::size_t valid = valid_utf8_prefix(text);
  DUOGEN_CHECK(valid == text.size(), InvalidArgument,
               "text to encode is not valid UTF-8 (bad byte 0x{:02X} at offset {})",
               static_cast<unsigned char>(text[valid]), valid);
}

std::string replace_invalid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t good = valid_utf8_prefix(bytes.substr(i));
    out.append(bytes.substr(i, good));
    i += good;
    if (i == bytes.size()) break;
    out.append(kReplacement);
    i += read_sequence(bytes, i).length;
  }
  return out;
}

std::size_t incomplete_utf8_tail(std::string_view bytes) {
  // A truncated sequence is at most 3 bytes, so only the last 3 lead positions matter.
  const std::size_t from = bytes.size() > 3 ? bytes.size() - 3 : 0;
  for (std::size_t i = from; i < bytes.size(); ++i) {
    const Step step = read_sequence(bytes, i);
    if (step.truncated) return bytes.size() - i;
  }
  return 0;
}

}  // namespace duogen::tokenizer
