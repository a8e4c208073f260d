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
#include "io/atomic_file.h"

namespace duogen::io {

at::Tensor read_image_rgb(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the image file", path.string());
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                         std::istreambuf_iterator<char>());
  DUOGEN_CHECK(!in.bad(), IoError, "{}: read failed", path.string());
  DUOGEN_CHECK(bytes.size() <= static_cast<std::size_t>(INT32_MAX), FormatError,
               "{}: file too large for an image ({} bytes)", path.string(), bytes.size());
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height,
                            &channels, 3),
      stbi_image_free);
  DUOGEN_CHECK(data != nullptr, FormatError, "{}: not a readable image ({})", path.string(),
               stbi_failure_reason() ? stbi_failure_reason() : "unknown reason");
  return at::from_blob(data.get(), {height, width, 3}, at::kByte).clone();
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
