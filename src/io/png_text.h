// PNG files with tEXt chunks: generated images carry their generation parameters (prompt, seed,
// steps, ...) the way other image generators do, readable with any PNG tool.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace duogen::io {

using PngText = std::vector<std::pair<std::string, std::string>>;  // keyword -> Latin-1 text

// Encodes a uint8 [H, W, 3] tensor as PNG bytes with the given tEXt chunks after IHDR.
// Keywords must be 1-79 printable Latin-1 characters without NUL (InvalidArgument otherwise);
// text bytes are written as given (callers keep them ASCII/Latin-1; NULs are rejected).
std::string encode_png(const at::Tensor& rgb, const PngText& text = {});

// encode_png, written atomically.
void write_png_with_text(const std::filesystem::path& path, const at::Tensor& rgb,
                         const PngText& text);

// The tEXt chunks of a PNG file, in file order. FormatError if it is not a PNG or a chunk is
// damaged (bad length or CRC).
PngText read_png_text(const std::filesystem::path& path);

}  // namespace duogen::io
