#include "io/png_text.h"

#include <ATen/ATen.h>
#include <stb_image_write.h>  // implementation compiled in image_io.cpp

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>

#include "core/check.h"
#include "io/atomic_file.h"

namespace duogen::io {
namespace {

constexpr std::string_view kSignature = "\x89PNG\r\n\x1a\n";

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}

// PNG's CRC-32 (ISO 3309) over chunk type + data.
std::uint32_t crc32(std::string_view bytes) {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char b : bytes) c = table[(c ^ static_cast<unsigned char>(b)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

std::uint32_t get_u32(std::string_view bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

std::string text_chunk(const std::string& keyword, const std::string& text) {
  DUOGEN_CHECK(!keyword.empty() && keyword.size() <= 79, InvalidArgument,
               "PNG tEXt keyword '{}' must have 1-79 characters", keyword);
  for (const char c : keyword) {
    const auto u = static_cast<unsigned char>(c);
    DUOGEN_CHECK(u >= 32 && u != 127, InvalidArgument,
                 "PNG tEXt keyword '{}' has a non-printable character", keyword);
  }
  DUOGEN_CHECK(text.find('\0') == std::string::npos, InvalidArgument,
               "PNG tEXt '{}': the text contains a NUL byte", keyword);
  std::string body = "tEXt" + keyword;
  body += '\0';
  body += text;
  std::string chunk;
  put_u32(chunk, static_cast<std::uint32_t>(body.size() - 4));
  chunk += body;
  put_u32(chunk, crc32(body));
  return chunk;
}

}  // namespace

std::string encode_png(const at::Tensor& rgb, const PngText& text) {
  DUOGEN_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte &&
                   rgb.size(0) > 0 && rgb.size(1) > 0,
               InvalidArgument, "encode_png needs a uint8 [H, W, 3] tensor, got {} {}",
               c10::toString(rgb.scalar_type()), rgb.sizes());
  const at::Tensor pixels = rgb.to(at::kCPU).contiguous();
  const int height = static_cast<int>(pixels.size(0)), width = static_cast<int>(pixels.size(1));
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  DUOGEN_CHECK(stbi_write_png_to_func(append, &png, width, height, 3, pixels.data_ptr(),
                                      width * 3) != 0,
               Error, "PNG encoding failed");
  // Signature (8) + IHDR (4 length + 4 type + 13 data + 4 CRC): text chunks go right after.
  constexpr std::size_t kAfterIhdr = 8 + 25;
  std::string chunks;
  for (const auto& [keyword, value] : text) chunks += text_chunk(keyword, value);
  png.insert(kAfterIhdr, chunks);
  return png;
}

void write_png_with_text(const std::filesystem::path& path, const at::Tensor& rgb,
                         const PngText& text) {
  write_file_atomically(path, encode_png(rgb, text));
}

PngText read_png_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open", path.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  DUOGEN_CHECK(bytes.compare(0, kSignature.size(), kSignature) == 0, FormatError,
               "{}: not a PNG file", path.string());
  PngText out;
  std::size_t at = kSignature.size();
  while (at + 12 <= bytes.size()) {
    const std::uint32_t length = get_u32(bytes, at);
    DUOGEN_CHECK(length <= bytes.size() - at - 12, FormatError,
                 "{}: chunk at byte {} runs past the end of the file", path.string(), at);
    const std::string_view body(bytes.data() + at + 4, length + 4);
    DUOGEN_CHECK(get_u32(bytes, at + 8 + length) == crc32(body), FormatError,
                 "{}: chunk '{}' at byte {} has a bad CRC", path.string(), body.substr(0, 4), at);
    if (body.substr(0, 4) == "tEXt") {
      const std::string_view data = body.substr(4);
      const auto nul = data.find('\0');
      DUOGEN_CHECK(nul != std::string_view::npos, FormatError,
                   "{}: tEXt chunk at byte {} has no keyword separator", path.string(), at);
      out.emplace_back(std::string(data.substr(0, nul)), std::string(data.substr(nul + 1)));
    }
    if (body.substr(0, 4) == "IEND") break;
    at += 12 + length;
  }
  return out;
}

}  // namespace duogen::io
