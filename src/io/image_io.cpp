#include "io/image_io.h"

#include <ATen/ATen.h>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "io/exif.h"
#include "io/atomic_file.h"

namespace duogen::io {

at::Tensor read_image_rgb(const std::filesystem::path& path, AlphaMode alpha) {
  std::ifstream in(path, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the image file", path.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  DUOGEN_CHECK(!in.bad(), IoError, "{}: read failed", path.string());
  return decode_image_rgb(bytes, path.string(), alpha);
}

at::Tensor decode_image_rgb(std::string_view bytes, const std::string& name, AlphaMode alpha) {
  DUOGEN_CHECK(bytes.size() <= static_cast<std::size_t>(INT32_MAX), FormatError,
               "{}: too large for an image ({} bytes)", name, bytes.size());
  // Always decode to RGBA: stb then expands grey, palettes and colour keys into a real alpha
  // channel (opaque where the file has none), so both alpha modes see the same pixels.
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &width, &height, &channels, 4),
      stbi_image_free);
  DUOGEN_CHECK(data != nullptr, FormatError, "{}: not a readable image ({})", name,
               stbi_failure_reason() ? stbi_failure_reason() : "unknown reason");
  const at::Tensor rgba = at::from_blob(data.get(), {height, width, 4}, at::kByte);
  const int orientation = exif_orientation(bytes);
  switch (alpha) {
    case AlphaMode::kDrop:
      return apply_exif_orientation(rgba.slice(2, 0, 3), orientation).clone();
    case AlphaMode::kCompositeOnWhite:
      return apply_exif_orientation(composite_on_white(rgba), orientation);
  }
  DUOGEN_FAIL(InvalidArgument, "decode_image_rgb: unknown alpha mode");
}

at::Tensor composite_on_white(const at::Tensor& rgba) {
  DUOGEN_CHECK(rgba.dim() == 3 && rgba.size(2) == 4 && rgba.scalar_type() == at::kByte,
               InvalidArgument, "composite_on_white needs a uint8 [H, W, 4] tensor, got {} {}",
               c10::toString(rgba.scalar_type()), rgba.sizes());
  const at::Tensor src = rgba.to(at::kCPU).contiguous();
  at::Tensor out = at::empty({src.size(0), src.size(1), 3}, src.options());
  const std::uint8_t* s = src.data_ptr<std::uint8_t>();
  std::uint8_t* o = out.data_ptr<std::uint8_t>();
  // Pillow AlphaComposite.c with dst = (255, 255, 255, 255): 7 extra bits of precision and
  // SHIFTFORDIV255(a) = ((a >> 8) + a) >> 8 as a rounded division by 255.
  constexpr std::uint32_t kBits = 7;
  const auto div255 = [](std::uint32_t a) { return ((a >> 8) + a) >> 8; };
  for (std::int64_t i = 0, n = src.size(0) * src.size(1); i < n; ++i, s += 4, o += 3) {
    const std::uint32_t a = s[3];
    if (a == 0) {
      o[0] = o[1] = o[2] = 255;
      continue;
    }
    const std::uint32_t blend = 255 * (255 - a);
    const std::uint32_t out_a255 = a * 255 + blend;
    const std::uint32_t coef1 = a * 255 * 255 * (1u << kBits) / out_a255;
    const std::uint32_t coef2 = 255 * (1u << kBits) - coef1;
    for (int c = 0; c < 3; ++c) {
      const std::uint32_t t = s[c] * coef1 + 255 * coef2;
      o[c] = static_cast<std::uint8_t>(div255(t + (0x80u << kBits)) >> kBits);
    }
  }
  return out;
}

void write_png(const std::filesystem::path& path, const at::Tensor& rgb) {
  DUOGEN_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte &&
                   rgb.size(0) > 0 && rgb.size(1) > 0,
               InvalidArgument, "{}: write_png needs a uint8 [H, W, 3] tensor, got {} {}",
               path.string(), c10::toString(rgb.scalar_type()), rgb.sizes());
  const at::Tensor pixels = rgb.to(at::kCPU).contiguous();
  const int height = static_cast<int>(pixels.size(0)), width = static_cast<int>(pixels.size(1));
  // Encode in memory, then write atomically: a reader never sees a half-written PNG.
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &png, width, height, 3, pixels.data_ptr(),
                                        width * 3);
  DUOGEN_CHECK(ok != 0, IoError, "{}: PNG encoding failed", path.string());
  write_file_atomically(path, png);
}

}  // namespace duogen::io
