// The public image and helper functions of duogen/duogen.h, over io/ and runtime/.
#include <ATen/ATen.h>

#include "api/convert.h"
#include "core/base64.h"
#include "core/check.h"
#include "io/atomic_file.h"
#include "io/image_io.h"
#include "io/pipeline_snapshot.h"
#include "runtime/byte_size.h"

namespace duogen {
namespace api {

Image to_image(const at::Tensor& rgb, const io::PngText& params) {
  DUOGEN_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte,
               InvalidArgument, "expected a uint8 [H, W, 3] image tensor, got {} {}",
               c10::toString(rgb.scalar_type()), rgb.sizes());
  const at::Tensor host = rgb.to(at::kCPU).contiguous();
  Image image;
  image.height = host.size(0);
  image.width = host.size(1);
  const auto* data = host.data_ptr<std::uint8_t>();
  image.rgb.assign(data, data + host.numel());
  image.params = params;
  return image;
}

at::Tensor tensor_view(const Image& image) {
  DUOGEN_CHECK(image.width > 0 && image.height > 0 &&
                   image.rgb.size() == static_cast<std::size_t>(image.width * image.height * 3),
               InvalidArgument, "image: {}x{} needs {} RGB bytes, holds {}", image.width,
               image.height, image.width * image.height * 3, image.rgb.size());
  return at::from_blob(const_cast<std::uint8_t*>(image.rgb.data()),
                       {image.height, image.width, 3}, at::kByte);
}

}  // namespace api

std::string encode_png(const Image& image) {
  return io::encode_png(api::tensor_view(image), image.params);
}

void save_png(const std::filesystem::path& path, const Image& image) {
  io::write_file_atomically(path, encode_png(image));
}

Image decode_image(std::string_view bytes, const std::string& name) {
  return api::to_image(io::decode_image_rgb(bytes, name));
}

Image read_image(const std::filesystem::path& path) { return api::to_image(io::read_image_rgb(path)); }

std::uint64_t parse_byte_size(std::string_view text) { return runtime::parse_byte_size(text); }

ContentPart text_part(std::string text) {
  ContentPart part;
  part.text = std::move(text);
  return part;
}

ContentPart image_part(std::filesystem::path path) {
  ContentPart part;
  part.kind = ContentPart::Kind::kImage;
  part.image_path = std::filesystem::absolute(path);
  return part;
}

ContentPart image_bytes_part(std::string encoded_bytes) {
  ContentPart part;
  part.kind = ContentPart::Kind::kImage;
  part.image_bytes = std::move(encoded_bytes);
  return part;
}

ModelKind detect_model(const std::filesystem::path& path) {
  if (io::find_pipeline_snapshot(path)) return ModelKind::kCosmosSnapshot;
  std::error_code ec;
  const bool manifest = std::filesystem::is_regular_file(path / "duogen.json", ec) ||
                        (path.filename() == "duogen.json" &&
                         std::filesystem::is_regular_file(path, ec));
  DUOGEN_CHECK(manifest, InvalidArgument,
               "{}: neither a DuoGen model (duogen.json) nor a Cosmos-Predict2.5 snapshot "
               "(model_index.json)",
               path.string());
  return ModelKind::kDuoGen;
}

}  // namespace duogen
