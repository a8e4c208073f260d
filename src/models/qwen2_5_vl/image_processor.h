// Qwen2.5-VL image preprocessing (architecture.md §3): images -> `pixel_values` + `image_grid_thw`
// for the vision tower.
//
// The reference is transformers 5.23 `Qwen2VLImageProcessorPil` (models/qwen2_vl/
// image_processing_pil_qwen2_vl.py), the PIL backend: Pillow BICUBIC resize of the uint8 RGB
// image, float64 rescale cast to float32, float32 (x - mean) / std, patch flattening. It is the
// only bit-reproducible one, and the one the Qwen2-VL processor has used since release.
// transformers 5.x's AutoImageProcessor instead picks `Qwen2VLImageProcessor` (torchvision
// backend) whenever torchvision is installed; that one resizes with torch's antialiased uint8
// bicubic (torchvision calls F.interpolate on uint8 CPU tensors directly). On the golden images
// that differs from Pillow by at most 1 uint8 level (<= 0.015 in pixel_values units), measured
// by tools/reference/dump_qwen2_5_vl_vision.py (metadata `torchvision_backend_deviation` of
// tests/data/reference/qwen2_5_vl.image_processor.safetensors); it also fuses the rescale into
// mean/std, a float32 rounding difference.
//
//   auto processor = qwen2_5_vl::ImageProcessor(
//       qwen2_5_vl::ImageProcessorConfig::from_directory(model_dir));
//   auto batch = processor.process({io::read_image_rgb(path, io::AlphaMode::kCompositeOnWhite)});
//   at::Tensor embeds = vision_tower.forward(batch.pixel_values, batch.grid_thw);
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace duogen::io {
class JsonObject;
}

namespace duogen::qwen2_5_vl {

struct ImageProcessorConfig {
  // transformers' class defaults (used when the checkpoint has no preprocessor_config.json).
  // The hub's Qwen2.5-VL-7B-Instruct file sets max_pixels = 12845056.
  std::int64_t min_pixels = 56 * 56;
  std::int64_t max_pixels = 28 * 28 * 1280;
  std::int64_t patch_size = 14;
  std::int64_t temporal_patch_size = 2;
  std::int64_t merge_size = 2;
  std::array<double, 3> image_mean = {0.48145466, 0.4578275, 0.40821073};  // OpenAI CLIP
  std::array<double, 3> image_std = {0.26862954, 0.26130258, 0.27577711};
  double rescale_factor = 1.0 / 255.0;
  bool do_resize = true;
  bool do_rescale = true;
  bool do_normalize = true;
  // DuoGen (paper): every image fed to the MLLM has max side <= 480 px. Applied before
  // smart_resize as a real Pillow-bicubic downscale with the aspect ratio kept (the exact
  // mechanism is [UNCONFIRMED], architecture.md §3.2). 0 turns the cap off, which gives plain
  // Qwen2.5-VL preprocessing. Not part of preprocessor_config.json.
  std::int64_t max_side = 480;

  std::int64_t factor() const { return patch_size * merge_size; }

  // Keys as transformers reads them: `size.shortest_edge/longest_edge`, overridden by
  // `min_pixels`/`max_pixels`; `image_mean`, `image_std`, `rescale_factor`, `do_*`,
  // `patch_size`, `temporal_patch_size`, `merge_size`. Throws FormatError naming the file/key.
  static ImageProcessorConfig from_json(const io::JsonObject& json);
  // `dir`/preprocessor_config.json when it exists, else the defaults above.
  static ImageProcessorConfig from_directory(const std::filesystem::path& dir);
};

struct ImageSize {
  std::int64_t height = 0;
  std::int64_t width = 0;
  bool operator==(const ImageSize&) const = default;
};

// transformers 5.23 `smart_resize`: both sides multiples of `factor`, pixel count within
// [min_pixels, max_pixels], aspect ratio kept as closely as possible; round() is Python's
// (half to even). Throws InvalidArgument for empty sizes or an aspect ratio above 200.
ImageSize smart_resize(std::int64_t height,
                       std::int64_t width,
                       std::int64_t factor,
                       std::int64_t min_pixels,
                       std::int64_t max_pixels);

// The DuoGen cap: the size an image is first downscaled to so that max(h, w) <= max_side (long
// side = max_side, short side = round_half_even(short * max_side / long), at least 1). Sizes
// already within the cap, and max_side = 0, are returned unchanged.
ImageSize cap_max_side(ImageSize size, std::int64_t max_side);

struct ProcessedImages {
  at::Tensor pixel_values;  // F32 [sum(grid_t * grid_h * grid_w), C * T * P * P] (1176)
  at::Tensor grid_thw;      // I64 [n_images, 3], rows (1, H / P, W / P)
};

class ImageProcessor {
 public:
  // Throws InvalidArgument for sizes that are not positive.
  explicit ImageProcessor(ImageProcessorConfig config);

  // The size an h x w input is resized to: cap_max_side, then smart_resize.
  ImageSize target_size(std::int64_t height, std::int64_t width) const;
  // Each image uint8 RGB [H, W, 3]; outputs in input order, rows of one image contiguous.
  ProcessedImages process(const std::vector<at::Tensor>& images) const;
  // One image, already at its final size (multiples of factor()): rescale, normalize, patchify
  // -> F32 [(H / P) * (W / P), C * T * P * P], rows in merge-block order (§3.3).
  at::Tensor patchify(const at::Tensor& rgb) const;
  // Reads each file (transparency composited on white, as transformers does) and processes them.
  ProcessedImages process_files(const std::vector<std::filesystem::path>& files) const;
  // LLM tokens (<|image_pad|> count) of each image: t * h * w / merge_size^2 per grid row.
  std::vector<std::int64_t> token_counts(const at::Tensor& grid_thw) const;

  const ImageProcessorConfig& config() const { return config_; }

 private:
  ImageProcessorConfig config_;
};

}  // namespace duogen::qwen2_5_vl
