#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace duogen::tokenizer {
namespace {

bool maps_to_itself(int b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

}  // namespace

ByteLevelTable::ByteLevelTable() {
  code_point_to_byte_.fill(-1);
  char32_t next_shifted = 256;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = maps_to_itself(b) ? static_cast<char32_t>(b) : next_shifted++;
    append_utf8(byte_to_utf8_[b], cp);
    code_point_to_byte_[cp] = static_cast<std::int16_t>(b);
  }
}

std::string ByteLevelTable::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += byte_to_utf8_[static_cast<std::uint8_t>(c)];
  return out;
}

std::optional<std::string> ByteLevelTable::decode(std::string_view token) const {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size();) {
    // Table code points are below U+0200, so they are one or two UTF-8 bytes.
    const auto b0 = static_cast<std::uint8_t>(token[i]);
    char32_t cp = 0;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && i + 1 < token.size()) {
      cp = (static_cast<char32_t>(b0 & 0x1F) << 6) | (static_cast<std::uint8_t>(token[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;
    }
    if (cp >= code_point_to_byte_.size() || code_point_to_byte_[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(code_point_to_byte_[cp]));
  }
  return out;
}

}  // namespace duogen::tokenizer
