// The GPT-2 byte <-> unicode table of byte-level BPE (HF `bytes_to_unicode`): printable bytes
// 33..126, 161..172 and 174..255 map to the same code point, the other 68 bytes map in
// increasing order to U+0100, U+0101, ... so that every byte string is a printable string.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace duogen::tokenizer {

class ByteLevelTable {
 public:
  ByteLevelTable();

  // UTF-8 of the code point that stands for byte b.
  const std::string& encode_byte(std::uint8_t b) const { return byte_to_utf8_[b]; }
  // bytes mapped to their byte-level string.
  std::string encode(std::string_view bytes) const;
  // The bytes a byte-level token stands for, or nullopt if some character of the token is not
  // in the table (HF then keeps the token's own UTF-8, see BpeTokenizer::decode).
  std::optional<std::string> decode(std::string_view token) const;

 private:
  std::array<std::string, 256> byte_to_utf8_;
  std::array<std::int16_t, 512> code_point_to_byte_;  // -1 where not in the table; all are < 512
};

}  // namespace duogen::tokenizer
