#include "io/exif.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace duogen::io {
namespace {

constexpr std::uint16_t kOrientationTag = 0x0112;

// Reads the orientation from a TIFF structure (the body of an EXIF block); nullopt if malformed.
std::optional<int> tiff_orientation(std::string_view tiff) {
  if (tiff.size() < 8) return std::nullopt;
  const bool little = tiff.substr(0, 2) == "II";
  if (!little && tiff.substr(0, 2) != "MM") return std::nullopt;
  const auto u16 = [&](std::size_t at) -> std::optional<std::uint32_t> {
    if (at + 2 > tiff.size()) return std::nullopt;
    const auto b0 = static_cast<std::uint8_t>(tiff[at]), b1 = static_cast<std::uint8_t>(tiff[at + 1]);
    return little ? (b0 | (b1 << 8)) : ((b0 << 8) | b1);
  };
  const auto u32 = [&](std::size_t at) -> std::optional<std::uint32_t> {
    const auto lo = u16(little ? at : at + 2), hi = u16(little ? at + 2 : at);
    if (!lo || !hi) return std::nullopt;
    return *lo | (*hi << 16);
  };
  if (u16(2) != 42u) return std::nullopt;
  const auto ifd = u32(4);
  if (!ifd) return std::nullopt;
  const auto count = u16(*ifd);
  if (!count) return std::nullopt;
  for (std::uint32_t i = 0; i < *count; ++i) {
    const std::size_t entry = *ifd + 2 + 12 * static_cast<std::size_t>(i);
    const auto tag = u16(entry), type = u16(entry + 2);
    if (!tag || !type) return std::nullopt;
    if (*tag != kOrientationTag) continue;
    // SHORT (3) as the standard says; LONG (4) from some writers. The value sits in the entry.
    const auto value = *type == 3 ? u16(entry + 8) : *type == 4 ? u32(entry + 8) : std::nullopt;
    if (!value) return std::nullopt;
    return static_cast<int>(*value);
  }
  return std::nullopt;
}

std::uint32_t big_endian_u32(std::string_view s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[at + 3]));
}

std::optional<std::string_view> jpeg_exif(std::string_view b) {
  if (b.size() < 4 || static_cast<std::uint8_t>(b[0]) != 0xFF ||
      static_cast<std::uint8_t>(b[1]) != 0xD8) {
    return std::nullopt;
  }
  std::size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<std::uint8_t>(b[at]) != 0xFF) return std::nullopt;
    const auto marker = static_cast<std::uint8_t>(b[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // image data / end: no EXIF
    const std::size_t length = (static_cast<std::uint8_t>(b[at + 2]) << 8) |
                               static_cast<std::uint8_t>(b[at + 3]);
    if (length < 2 || at + 2 + length > b.size()) return std::nullopt;
    const std::string_view body = b.substr(at + 4, length - 2);
    if (marker == 0xE1 && body.substr(0, 6) == std::string_view("Exif\0\0", 6)) {
      return body.substr(6);
    }
    at += 2 + length;
  }
  return std::nullopt;
}

std::optional<std::string_view> png_exif(std::string_view b) {
  if (b.substr(0, 8) != "\x89PNG\r\n\x1a\n") return std::nullopt;
  std::size_t at = 8;
  while (at + 12 <= b.size()) {
    const std::uint32_t length = big_endian_u32(b, at);
    const std::string_view type = b.substr(at + 4, 4);
    if (length > b.size() - at - 12) return std::nullopt;
    if (type == "eXIf") {
      std::string_view body = b.substr(at + 8, length);
      if (body.substr(0, 6) == std::string_view("Exif\0\0", 6)) body = body.substr(6);
      return body;
    }
    if (type == "IDAT" || type == "IEND") return std::nullopt;  // Pillow reads eXIf before IDAT
    at += 12 + length;
  }
  return std::nullopt;
}

}  // namespace

int exif_orientation(std::string_view file_bytes) {
  std::optional<std::string_view> tiff = jpeg_exif(file_bytes);
  if (!tiff) tiff = png_exif(file_bytes);
  if (!tiff) return 1;
  return tiff_orientation(*tiff).value_or(1);
}

at::Tensor apply_exif_orientation(const at::Tensor& rgb, int orientation) {
  switch (orientation) {
    // flip keeps its input's strides, so a transposed or sliced input stays non-contiguous.
    case 2: return rgb.flip({1}).contiguous();
    case 3: return rgb.flip({0, 1}).contiguous();
    case 4: return rgb.flip({0}).contiguous();
    case 5: return rgb.transpose(0, 1).contiguous();
    case 6: return at::rot90(rgb, -1, {0, 1}).contiguous();
    case 7: return rgb.transpose(0, 1).flip({0, 1}).contiguous();
    case 8: return at::rot90(rgb, 1, {0, 1}).contiguous();
    default: return rgb.contiguous();
  }
}

}  // namespace duogen::io
