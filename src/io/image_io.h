// Image files <-> uint8 RGB tensors [H, W, 3] (stb_image / stb_image_write).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>

namespace duogen::io {

// Reads PNG, JPEG, BMP, ... as RGB (alpha dropped, grey expanded). Throws IoError if the file
// cannot be read, FormatError naming it if it is not a decodable image.
at::Tensor read_image_rgb(const std::filesystem::path& path);

// Writes a uint8 [H, W, 3] tensor as PNG, atomically (a temporary beside the target, renamed).
// Throws InvalidArgument for a tensor of the wrong type or shape, IoError on write failure.
void write_png(const std::filesystem::path& path, const at::Tensor& rgb);

}  // namespace duogen::io
