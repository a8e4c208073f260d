// RFC 4648 base64 (standard alphabet, '=' padding): data: URLs in job files, inline images in
// HTML reports and judge requests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace duogen {

std::string base64_encode(std::string_view bytes);

// nullopt for characters outside the alphabet, bad padding or a length that is not a multiple
// of 4 (whitespace is not accepted either: data URLs carry none).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace duogen
