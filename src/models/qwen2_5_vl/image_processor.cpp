#include "models/qwen2_5_vl/image_processor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "image/resample.h"
#include "io/image_io.h"
#include "io/json_config.h"

namespace duogen::qwen2_5_vl {
namespace {

std::array<double, 3> channel_triple(const io::JsonObject& j,
                                     const char* key,
                                     const std::array<double, 3>& fallback) {
  if (!j.has(key) || j.json()[key].is_null()) return fallback;
  const auto values = j.require<std::vector<double>>(key);
  DUOGEN_CHECK(values.size() == 3, FormatError, "{}: '{}' must hold 3 values (R, G, B), got {}",
               j.file(), key, values.size());
  return {values[0], values[1], values[2]};
}

// Python's round(): ties to even (nearbyint in the default rounding mode).
std::int64_t round_half_even(double v) { return static_cast<std::int64_t>(std::nearbyint(v)); }

// The float32 value each uint8 level of each channel becomes, computed with the reference's
// operations: rescale in float64 then cast to float32 (transformers `rescale`), then
// (x - mean) / std in float32 (transformers `normalize`, mean/std cast to float32).
std::array<std::array<float, 256>, 3> level_table(const ImageProcessorConfig& c) {
  std::array<std::array<float, 256>, 3> table{};
  for (int ch = 0; ch < 3; ++ch) {
    const float mean = static_cast<float>(c.image_mean[ch]);
    const float std_dev = static_cast<float>(c.image_std[ch]);
    for (int v = 0; v < 256; ++v) {
      float x = c.do_rescale ? static_cast<float>(static_cast<double>(v) * c.rescale_factor)
                             : static_cast<float>(v);
      if (c.do_normalize) x = (x - mean) / std_dev;
      table[ch][v] = x;
    }
  }
  return table;
}

void check_image(const at::Tensor& rgb, std::size_t index) {
  DUOGEN_CHECK(rgb.defined() && rgb.dim() == 3 && rgb.size(2) == 3 &&
                   rgb.scalar_type() == at::kByte && rgb.size(0) > 0 && rgb.size(1) > 0,
               InvalidArgument,
               "image processor: image {} must be a non-empty uint8 [H, W, 3] tensor, got {} {}",
               index, rgb.defined() ? c10::toString(rgb.scalar_type()) : "undefined",
               rgb.defined() ? rgb.sizes() : c10::IntArrayRef{});
}

}  // namespace

ImageProcessorConfig ImageProcessorConfig::from_json(const io::JsonObject& j) {
  ImageProcessorConfig c;
  if (auto size = j.child("size")) {
    c.min_pixels = size->get("shortest_edge", size->get("min_pixels", c.min_pixels));
    c.max_pixels = size->get("longest_edge", size->get("max_pixels", c.max_pixels));
  }
  c.min_pixels = j.get("min_pixels", c.min_pixels);
  c.max_pixels = j.get("max_pixels", c.max_pixels);
  c.patch_size = j.get("patch_size", c.patch_size);
  c.temporal_patch_size = j.get("temporal_patch_size", c.temporal_patch_size);
  c.merge_size = j.get("merge_size", c.merge_size);
  c.image_mean = channel_triple(j, "image_mean", c.image_mean);
  c.image_std = channel_triple(j, "image_std", c.image_std);
  c.rescale_factor = j.get("rescale_factor", c.rescale_factor);
  c.do_resize = j.get("do_resize", c.do_resize);
  c.do_rescale = j.get("do_rescale", c.do_rescale);
  c.do_normalize = j.get("do_normalize", c.do_normalize);
  // PILImageResampling.BICUBIC = 3; the only filter implemented (and the only one Qwen uses).
  const auto resample = j.get<std::int64_t>("resample", 3);
  DUOGEN_CHECK(resample == 3, FormatError,
               "{}: 'resample' = {} is not supported (only 3 = BICUBIC is implemented)", j.file(),
               resample);
  DUOGEN_CHECK(c.patch_size > 0 && c.merge_size > 0 && c.temporal_patch_size > 0 &&
                   c.min_pixels > 0 && c.max_pixels >= c.min_pixels,
               FormatError,
               "{}: patch_size {}, merge_size {}, temporal_patch_size {} must be > 0 and "
               "0 < min_pixels {} <= max_pixels {}",
               j.file(), c.patch_size, c.merge_size, c.temporal_patch_size, c.min_pixels,
               c.max_pixels);
  for (double s : c.image_std) {
    DUOGEN_CHECK(s != 0.0, FormatError, "{}: 'image_std' has a zero entry", j.file());
  }
  return c;
}

ImageProcessorConfig ImageProcessorConfig::from_directory(const std::filesystem::path& dir) {
  const auto file = dir / "preprocessor_config.json";
  if (!std::filesystem::exists(file)) return {};
  return from_json(io::JsonObject::from_file(file));
}

ImageSize smart_resize(std::int64_t height,
                       std::int64_t width,
                       std::int64_t factor,
                       std::int64_t min_pixels,
                       std::int64_t max_pixels) {
  DUOGEN_CHECK(height > 0 && width > 0 && factor > 0, InvalidArgument,
               "smart_resize: invalid image size {}x{} (factor {})", height, width, factor);
  const double h = static_cast<double>(height), w = static_cast<double>(width);
  const double f = static_cast<double>(factor);
  DUOGEN_CHECK(std::max(h, w) / std::min(h, w) <= 200.0, InvalidArgument,
               "smart_resize: absolute aspect ratio must be at most 200, got {}x{}", height, width);
  std::int64_t h_bar = round_half_even(h / f) * factor;
  std::int64_t w_bar = round_half_even(w / f) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt((h * w) / static_cast<double>(max_pixels));
    h_bar = std::max(factor, static_cast<std::int64_t>(std::floor(h / beta / f)) * factor);
    w_bar = std::max(factor, static_cast<std::int64_t>(std::floor(w / beta / f)) * factor);
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (h * w));
    h_bar = static_cast<std::int64_t>(std::ceil(h * beta / f)) * factor;
    w_bar = static_cast<std::int64_t>(std::ceil(w * beta / f)) * factor;
  }
  return {h_bar, w_bar};
}

ImageSize cap_max_side(ImageSize size, std::int64_t max_side) {
  const std::int64_t long_side = std::max(size.height, size.width);
  if (max_side <= 0 || long_side <= max_side) return size;
  const auto scaled = [&](std::int64_t side) {
    if (side == long_side) return max_side;
    const double v =
        static_cast<double>(side) * static_cast<double>(max_side) / static_cast<double>(long_side);
    return std::max<std::int64_t>(1, round_half_even(v));
  };
  return {scaled(size.height), scaled(size.width)};
}

ImageProcessor::ImageProcessor(ImageProcessorConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  DUOGEN_CHECK(c.patch_size > 0 && c.merge_size > 0 && c.temporal_patch_size > 0 &&
                   c.min_pixels > 0 && c.max_pixels >= c.min_pixels && c.max_side >= 0,
               InvalidArgument,
               "image processor: invalid config (patch_size {}, merge_size {}, "
               "temporal_patch_size {}, min_pixels {}, max_pixels {}, max_side {})",
               c.patch_size, c.merge_size, c.temporal_patch_size, c.min_pixels, c.max_pixels,
               c.max_side);
}

ImageSize ImageProcessor::target_size(std::int64_t height, std::int64_t width) const {
  const ImageSize capped = cap_max_side({height, width}, config_.max_side);
  if (!config_.do_resize) return capped;
  return smart_resize(capped.height, capped.width, config_.factor(), config_.min_pixels,
                      config_.max_pixels);
}

at::Tensor ImageProcessor::patchify(const at::Tensor& rgb) const {
  check_image(rgb, 0);
  const auto& c = config_;
  const std::int64_t height = rgb.size(0), width = rgb.size(1);
  DUOGEN_CHECK(height % c.factor() == 0 && width % c.factor() == 0, InvalidArgument,
               "image processor: a {}x{} image cannot be cut into {}x{} merge blocks", height,
               width, c.factor(), c.factor());
  const auto table = level_table(c);
  const at::Tensor pixels = rgb.to(at::kCPU).contiguous();
  at::Tensor x = at::empty({3, height, width}, at::TensorOptions().dtype(at::kFloat));  // [C, H, W]
  const std::uint8_t* src = pixels.data_ptr<std::uint8_t>();
  float* dst = x.data_ptr<float>();
  const std::int64_t plane = height * width;
  for (std::int64_t i = 0; i < plane; ++i) {
    for (int ch = 0; ch < 3; ++ch) dst[ch * plane + i] = table[ch][src[i * 3 + ch]];
  }
  const std::int64_t p = c.patch_size, m = c.merge_size, t = c.temporal_patch_size;
  const std::int64_t gh = height / p, gw = width / p;
  // [C, gh/m, m, P, gw/m, m, P] -> [gh/m, gw/m, m, m, C, P, P]: merge blocks row-major, then
  // the 2x2 patches inside a block, each patch as (channel, row, col).
  at::Tensor patches = x.view({3, gh / m, m, p, gw / m, m, p}).permute({1, 4, 2, 5, 0, 3, 6});
  // The image is a clip of T identical frames: [.., C, T, P, P] with T after the channel.
  patches = patches.unsqueeze(5).expand({gh / m, gw / m, m, m, 3, t, p, p});
  return patches.reshape({gh * gw, 3 * t * p * p});
}

ProcessedImages ImageProcessor::process(const std::vector<at::Tensor>& images) const {
  DUOGEN_CHECK(!images.empty(), InvalidArgument, "image processor: no images given");
  std::vector<at::Tensor> rows;
  std::vector<std::int64_t> grid;
  for (std::size_t i = 0; i < images.size(); ++i) {
    check_image(images[i], i);
    at::Tensor rgb = images[i];
    const ImageSize capped = cap_max_side({rgb.size(0), rgb.size(1)}, config_.max_side);
    if (capped != ImageSize{rgb.size(0), rgb.size(1)}) {
      rgb = image::resize_bicubic(rgb, capped.height, capped.width);
    }
    const ImageSize size = target_size(images[i].size(0), images[i].size(1));
    if (size != ImageSize{rgb.size(0), rgb.size(1)}) {
      rgb = image::resize_bicubic(rgb, size.height, size.width);
    }
    rows.push_back(patchify(rgb));
    grid.insert(grid.end(), {1, size.height / config_.patch_size, size.width / config_.patch_size});
  }
  const auto n = static_cast<std::int64_t>(images.size());
  return {at::cat(rows, 0), at::tensor(grid, at::TensorOptions().dtype(at::kLong)).view({n, 3})};
}

ProcessedImages ImageProcessor::process_files(
    const std::vector<std::filesystem::path>& files) const {
  std::vector<at::Tensor> images;
  images.reserve(files.size());
  for (const auto& file : files) {
    images.push_back(io::read_image_rgb(file, io::AlphaMode::kCompositeOnWhite));
  }
  return process(images);
}

std::vector<std::int64_t> ImageProcessor::token_counts(const at::Tensor& grid_thw) const {
  DUOGEN_CHECK(grid_thw.dim() == 2 && grid_thw.size(1) == 3, InvalidArgument,
               "image processor: grid_thw must be [n_images, 3], got {}", grid_thw.sizes());
  const at::Tensor g = grid_thw.to(at::kCPU, at::kLong).contiguous();
  const std::int64_t unit = config_.merge_size * config_.merge_size;
  std::vector<std::int64_t> counts;
  for (std::int64_t i = 0; i < g.size(0); ++i) {
    const std::int64_t patches = g[i].prod().item<std::int64_t>();
    DUOGEN_CHECK(patches > 0 && patches % unit == 0, InvalidArgument,
                 "image processor: grid_thw row {} has {} patches, not a positive multiple of {}",
                 i, patches, unit);
    counts.push_back(patches / unit);
  }
  return counts;
}

}  // namespace duogen::qwen2_5_vl
