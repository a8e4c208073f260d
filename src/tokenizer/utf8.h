// UTF-8 helpers shared by the tokenizers: validation, the exact replacement rule of Python's
// bytes.decode("utf-8", errors="replace") (one U+FFFD per maximal invalid subpart, as Unicode
// recommends and Rust's String::from_utf8_lossy also does), and incomplete-tail detection for
// streaming.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace duogen::tokenizer {

// Appends the UTF-8 encoding of code point cp (which must be a Unicode scalar value).
void append_utf8(std::string& out, char32_t cp);

// Length of the longest prefix of bytes that is valid UTF-8.
std::size_t valid_utf8_prefix(std::string_view bytes);

// Throws InvalidArgument naming the first bad byte and its offset unless text is valid UTF-8.
void require_valid_utf8(std::string_view text);

// bytes with every maximal invalid subpart replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view bytes);

// Number of trailing bytes that form a proper prefix of a well-formed UTF-8 sequence, i.e. bytes
// a later chunk may still complete (0 to 3). Streaming decoders hold these back.
std::size_t incomplete_utf8_tail(std::string_view bytes);

}  // namespace duogen::tokenizer
