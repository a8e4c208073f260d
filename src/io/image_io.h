// Image files <-> uint8 RGB tensors [H, W, 3] (stb_image / stb_image_write).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace duogen::io {

// What read_image_rgb does with transparency (an alpha channel, a tRNS colour key, a GIF's
// transparent index).
enum class AlphaMode {
  kDrop,               // keep the colour channels (PIL `convert("RGB")`, diffusers' load_image)
  kCompositeOnWhite,   // blend over opaque white with Pillow's 8-bit alpha_composite arithmetic,
                       // as transformers' image processors do (`convert_to_rgb`)
};

// Reads PNG, JPEG, BMP, GIF (first frame), ... as RGB uint8 [H, W, 3] (grey expanded). Throws
// IoError if the file cannot be read, FormatError naming it if it is not a decodable image.
// JPEG is decoded by stb_image, which is not bit-identical to libjpeg (Pillow): expect +-few
// levels of difference on JPEG input. 16-bit PNGs keep their high byte; Pillow instead clips
// 16-bit greyscale to 255. The EXIF orientation of a JPEG or PNG is applied (io/exif.h), as
// transformers' and diffusers' load_image do.
at::Tensor read_image_rgb(const std::filesystem::path& path, AlphaMode alpha = AlphaMode::kDrop);

// The same for an encoded image held in memory (a data: URL); `name` is used in error messages.
at::Tensor decode_image_rgb(std::string_view bytes, const std::string& name,
                            AlphaMode alpha = AlphaMode::kDrop);

// Pillow's `alpha_composite(white, rgba)` on uint8 [H, W, 4] -> uint8 [H, W, 3]. Exact: the same
// integer arithmetic (7 fractional bits, rounded division by 255). Opaque pixels are unchanged.
at::Tensor composite_on_white(const at::Tensor& rgba);

// Writes a uint8 [H, W, 3] tensor as PNG, atomically (a temporary beside the target, renamed).
// Throws InvalidArgument for a tensor of the wrong type or shape, IoError on write failure.
void write_png(const std::filesystem::path& path, const at::Tensor& rgb);

}  // namespace duogen::io
