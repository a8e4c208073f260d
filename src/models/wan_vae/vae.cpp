#include "models/wan_vae/vae.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <spdlog/spdlog.h>

#include <regex>

#include "core/check.h"
#include "io/checkpoint.h"
#include "io/weight_loader.h"
#include "models/wan_vae/causal_conv3d.h"
#include "models/wan_vae/decoder.h"
#include "models/wan_vae/encoder.h"

namespace duogen::wan_vae {
namespace {

using TileGrid = std::vector<std::vector<at::Tensor>>;

// diffusers' blend_v/blend_h: the first `extent` rows (dim = -2) or columns (dim = -1) of `b`
// fade in linearly from the last `extent` of `a`. In place on `b`, which later tiles then see.
void blend(const at::Tensor& a, at::Tensor& b, std::int64_t extent, std::int64_t dim) {
  extent = std::min({a.size(dim), b.size(dim), extent});
  if (extent <= 0) return;
  // Weights y / extent computed in double and applied in fp32, as the reference's Python
  // scalars are.
  const at::Tensor ramp = at::arange(extent, at::TensorOptions().dtype(at::kDouble)) / extent;
  std::vector<std::int64_t> shape(b.dim(), 1);
  shape[b.dim() + dim] = extent;
  const at::Tensor w_b = ramp.to(at::kFloat).view(shape);
  const at::Tensor w_a = (1.0 - ramp).to(at::kFloat).view(shape);
  const at::Tensor tail_a = a.narrow(dim, a.size(dim) - extent, extent).to(at::kFloat);
  at::Tensor head_b = b.narrow(dim, 0, extent);
  const at::Tensor mixed =
      (tail_a * w_a).to(b.scalar_type()) + (head_b.to(at::kFloat) * w_b).to(b.scalar_type());
  head_b.copy_(mixed);
}

// Blends the grid (row-major, each tile with the blended tile above and to its left), keeps
// each tile's first stride x stride, and crops the mosaic to out_h x out_w.
at::Tensor assemble(TileGrid& rows,
                    std::int64_t blend_h,
                    std::int64_t blend_w,
                    std::int64_t stride_h,
                    std::int64_t stride_w,
                    std::int64_t out_h,
                    std::int64_t out_w) {
  std::vector<at::Tensor> result_rows;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::vector<at::Tensor> result_row;
    for (std::size_t j = 0; j < rows[i].size(); ++j) {
      at::Tensor& tile = rows[i][j];
      if (i > 0) blend(rows[i - 1][j], tile, blend_h, -2);
      if (j > 0) blend(rows[i][j - 1], tile, blend_w, -1);
      result_row.push_back(tile.slice(-2, 0, stride_h).slice(-1, 0, stride_w));
    }
    result_rows.push_back(at::cat(result_row, -1));
  }
  return at::cat(result_rows, -2).slice(-2, 0, out_h).slice(-1, 0, out_w);
}

// For a checkpoint in the original layout the loader reports missing tensors by their diffusers
// names; add the name the checkpoint would use.
std::string with_original_names(const std::string& message, const Config& config) {
  static const std::regex kQuoted("'([a-z_0-9.]+)'");
  std::string out;
  auto begin = std::sregex_iterator(message.begin(), message.end(), kQuoted);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1].str();
    const std::string original = to_original_name(name, config);
    out += message.substr(last, it->position() - last) + it->str();
    if (original != name) out += fmt::format(" (original layout: '{}')", original);
    last = it->position() + it->length();
  }
  return out + message.substr(last);
}

}  // namespace

WanVAE::WanVAE(Config config, VAEOptions options)
    : config_(std::move(config)), options_(std::move(options)) {}
WanVAE::WanVAE(WanVAE&&) noexcept = default;
WanVAE& WanVAE::operator=(WanVAE&&) noexcept = default;
WanVAE::~WanVAE() = default;

WanVAE WanVAE::load(const std::filesystem::path& model, const VAEOptions& options) {
  c10::InferenceMode guard;
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(model));
  Config config = Config::from_directory(checkpoint->directory());
  const Layout layout = detect_layout(*checkpoint);
  spdlog::debug("{}: Wan2.1 VAE in the {} layout", checkpoint->describe(), layout_name(layout));
  io::WeightStore store(checkpoint,
                        weight_load_options(layout, config, options.dtype, options.device));
  return from_weights(std::move(config), options, store, layout);
}

WanVAE WanVAE::from_weights(Config config_in,
                            const VAEOptions& options,
                            io::WeightStore& store,
                            Layout layout) {
  c10::InferenceMode guard;
  WanVAE vae(std::move(config_in), options);
  vae.set_tiling(options.tiling);
  const Config& config = vae.config_;
  vae.layout_ = layout;
  auto root = store.root();
  vae.encoder_ = std::make_unique<Encoder>(root.sub("encoder"), config, options.attention.get());
  vae.decoder_ = std::make_unique<Decoder>(root.sub("decoder"), config, options.attention.get());
  const std::int64_t z = config.z_dim;
  vae.quant_conv_ = std::make_unique<CausalConv3d>(root.sub("quant_conv"), 2 * z, 2 * z,
                                                   std::array<std::int64_t, 3>{1, 1, 1});
  vae.post_quant_conv_ = std::make_unique<CausalConv3d>(root.sub("post_quant_conv"), z, z,
                                                        std::array<std::int64_t, 3>{1, 1, 1});
  try {
    store.finish("Wan2.1 VAE");
  } catch (const WeightError& e) {
    if (vae.layout_ != Layout::kOriginal) throw;
    throw WeightError(with_original_names(e.what(), config));
  }

  const auto stats = at::TensorOptions().dtype(at::kFloat).device(options.device);
  vae.mean_ =
      at::tensor(std::vector<float>(config.latents_mean.begin(), config.latents_mean.end()), stats)
          .view({1, z, 1, 1, 1});
  const at::Tensor std_dev =
      at::tensor(std::vector<float>(config.latents_std.begin(), config.latents_std.end()), stats);
  vae.inv_std_ = at::reciprocal(std_dev).view({1, z, 1, 1, 1});  // diffusers: 1.0 / std in fp32
  return vae;
}

void WanVAE::set_tiling(const TilingOptions& t) {
  const std::int64_t f = config_.scale_factor_spatial;
  DUOGEN_CHECK(
      !t.enabled || (t.tile_sample_min_height % f == 0 && t.tile_sample_min_width % f == 0 &&
                     t.tile_sample_stride_height % f == 0 && t.tile_sample_stride_width % f == 0 &&
                     t.tile_sample_stride_height > 0 && t.tile_sample_stride_width > 0 &&
                     t.tile_sample_stride_height <= t.tile_sample_min_height &&
                     t.tile_sample_stride_width <= t.tile_sample_min_width),
      InvalidArgument,
      "VAE tiling: tile sizes {}x{} and strides {}x{} must be positive multiples of {} "
      "with stride <= size",
      t.tile_sample_min_height, t.tile_sample_min_width, t.tile_sample_stride_height,
      t.tile_sample_stride_width, f);
  options_.tiling = t;
}

// The statistics are applied in fp32 whatever the network dtype: latents live in fp32 in the
// sampler, and in bf16 a 1/std of ~2 applied after the cast would add a rounding step of its own.
at::Tensor WanVAE::normalize(const at::Tensor& mu) const {
  c10::InferenceMode guard;
  return (mu.to(at::kFloat) - mean_) * inv_std_;
}

at::Tensor WanVAE::denormalize(const at::Tensor& latents) const {
  c10::InferenceMode guard;
  return latents.to(at::kFloat) / inv_std_ + mean_;
}

at::Tensor WanVAE::encode_moments(const at::Tensor& pixels) const {
  const std::int64_t frames = pixels.size(2);
  if (frames == 1 && options_.image_as_2d) {
    const at::Tensor h = encoder_->forward(pixels.select(2, 0), nullptr);  // [B, 2z, h, w]
    return quant_conv_->forward_2d(h).unsqueeze(2);
  }
  FeatureCache cache;
  std::vector<at::Tensor> chunks;
  const std::int64_t step = config_.scale_factor_temporal;
  for (std::int64_t start = 0; start < frames; start = start == 0 ? 1 : start + step) {
    cache.begin_chunk();
    const std::int64_t length = start == 0 ? 1 : step;  // frame 0 alone, then 4 at a time
    chunks.push_back(encoder_->forward(pixels.slice(2, start, start + length), &cache));
  }
  return quant_conv_->forward(at::cat(chunks, 2));
}

at::Tensor WanVAE::tiled_encode_moments(const at::Tensor& pixels) const {
  const auto& t = options_.tiling;
  const std::int64_t f = config_.scale_factor_spatial;
  const std::int64_t height = pixels.size(3), width = pixels.size(4);
  TileGrid rows;
  for (std::int64_t i = 0; i < height; i += t.tile_sample_stride_height) {
    auto& row = rows.emplace_back();
    for (std::int64_t j = 0; j < width; j += t.tile_sample_stride_width) {
      const at::Tensor tile =
          pixels.slice(3, i, i + t.tile_sample_min_height).slice(4, j, j + t.tile_sample_min_width);
      row.push_back(encode_moments(tile));
    }
  }
  return assemble(rows, (t.tile_sample_min_height - t.tile_sample_stride_height) / f,
                  (t.tile_sample_min_width - t.tile_sample_stride_width) / f,
                  t.tile_sample_stride_height / f, t.tile_sample_stride_width / f, height / f,
                  width / f);
}

at::Tensor WanVAE::encode_mean(const at::Tensor& pixels) const {
  c10::InferenceMode guard;
  const std::int64_t f = config_.scale_factor_spatial;
  DUOGEN_CHECK(pixels.dim() == 5 && pixels.size(1) == config_.in_channels &&
                   (pixels.size(2) - 1) % config_.scale_factor_temporal == 0 &&
                   pixels.size(3) % f == 0 && pixels.size(4) % f == 0 && pixels.size(3) > 0 &&
                   pixels.size(4) > 0,
               InvalidArgument,
               "Wan VAE encode: pixels must be [B, {}, 1 + {}k, H, W] with H and W multiples of "
               "{}, got {}",
               config_.in_channels, config_.scale_factor_temporal, f, pixels.sizes());
  const at::Tensor x = pixels.to(options_.device, options_.dtype);
  const auto& t = options_.tiling;
  const bool tiled =
      t.enabled && (x.size(3) > t.tile_sample_min_height || x.size(4) > t.tile_sample_min_width);
  const at::Tensor moments = tiled ? tiled_encode_moments(x) : encode_moments(x);
  return moments.slice(1, 0, config_.z_dim);  // mu; channels z.. are the log-variance
}

at::Tensor WanVAE::encode(const at::Tensor& pixels) const {
  c10::InferenceMode guard;
  return normalize(encode_mean(pixels));
}

at::Tensor WanVAE::decode_raw(const at::Tensor& z, const std::function<void()>& chunk) const {
  const std::int64_t frames = z.size(2);
  if (frames == 1 && options_.image_as_2d) {
    const at::Tensor x = post_quant_conv_->forward_2d(z.select(2, 0));  // [B, z, h, w]
    at::Tensor out = decoder_->forward(x, nullptr).unsqueeze(2);
    if (chunk) chunk();
    return out;
  }
  const at::Tensor x = post_quant_conv_->forward(z);
  FeatureCache cache;
  std::vector<at::Tensor> outputs;
  for (std::int64_t i = 0; i < frames; ++i) {
    cache.begin_chunk();
    outputs.push_back(decoder_->forward(x.slice(2, i, i + 1), &cache));
    if (chunk) chunk();
  }
  return at::cat(outputs, 2);
}

at::Tensor WanVAE::tiled_decode_raw(const at::Tensor& z, const std::function<void()>& chunk) const {
  const auto& t = options_.tiling;
  const std::int64_t f = config_.scale_factor_spatial;
  const std::int64_t height = z.size(3), width = z.size(4);
  const std::int64_t min_h = t.tile_sample_min_height / f, min_w = t.tile_sample_min_width / f;
  TileGrid rows;
  for (std::int64_t i = 0; i < height; i += t.tile_sample_stride_height / f) {
    auto& row = rows.emplace_back();
    for (std::int64_t j = 0; j < width; j += t.tile_sample_stride_width / f) {
      row.push_back(decode_raw(z.slice(3, i, i + min_h).slice(4, j, j + min_w), chunk));
    }
  }
  return assemble(rows, t.tile_sample_min_height - t.tile_sample_stride_height,
                  t.tile_sample_min_width - t.tile_sample_stride_width, t.tile_sample_stride_height,
                  t.tile_sample_stride_width, height * f, width * f);
}

at::Tensor WanVAE::decode(const at::Tensor& latents, const DecodeProgress& progress) const {
  c10::InferenceMode guard;
  DUOGEN_CHECK(latents.dim() == 5 && latents.size(1) == config_.z_dim && latents.size(2) > 0 &&
                   latents.size(3) > 0 && latents.size(4) > 0,
               InvalidArgument, "Wan VAE decode: latents must be [B, {}, T, h, w], got {}",
               config_.z_dim, latents.sizes());
  const at::Tensor z = denormalize(latents.to(options_.device)).to(options_.dtype);
  const auto& t = options_.tiling;
  const std::int64_t f = config_.scale_factor_spatial;
  const bool tiled = t.enabled && (z.size(3) > t.tile_sample_min_height / f ||
                                   z.size(4) > t.tile_sample_min_width / f);
  std::int64_t tiles = 1;
  if (tiled) {
    const auto count = [](std::int64_t size, std::int64_t stride) {
      return (size + stride - 1) / stride;
    };
    tiles = count(z.size(3), t.tile_sample_stride_height / f) *
            count(z.size(4), t.tile_sample_stride_width / f);
  }
  const std::int64_t total = tiles * z.size(2);
  std::int64_t done = 0;
  const std::function<void()> chunk = [&] {
    if (progress) progress(++done, total);
  };
  return (tiled ? tiled_decode_raw(z, chunk) : decode_raw(z, chunk)).clamp(-1.0, 1.0);
}

at::Tensor pixels_from_image(const at::Tensor& rgb) {
  DUOGEN_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte,
               InvalidArgument, "pixels_from_image: expected uint8 [H, W, 3], got {} {}",
               c10::toString(rgb.scalar_type()), rgb.sizes());
  // [H, W, 3] -> [1, 3, 1, H, W]
  return (rgb.permute({2, 0, 1}).to(at::kFloat) / 127.5 - 1.0).unsqueeze(0).unsqueeze(2);
}

at::Tensor image_from_pixels(const at::Tensor& pixels) {
  at::Tensor x = pixels;
  if (x.dim() == 5) {
    DUOGEN_CHECK(x.size(0) == 1 && x.size(2) == 1, InvalidArgument,
                 "image_from_pixels: expected one frame [1, 3, 1, H, W], got {}", x.sizes());
    x = x.select(2, 0).select(0, 0);
  }
  DUOGEN_CHECK(x.dim() == 3 && x.size(0) == 3, InvalidArgument,
               "image_from_pixels: expected [3, H, W], got {}", pixels.sizes());
  // diffusers VaeImageProcessor: x / 2 + 0.5, clamp to [0, 1], * 255, round half to even.
  const at::Tensor unit = (x.to(at::kCPU, at::kFloat) / 2 + 0.5).clamp(0.0, 1.0);
  return (unit * 255).round().to(at::kByte).permute({1, 2, 0}).contiguous();  // [H, W, 3]
}

}  // namespace duogen::wan_vae
