// duogen vae encode --model DIR --image IN.png --out latent.safetensors
// duogen vae decode --model DIR --latent L.safetensors --out OUT.png
// The Wan2.1 VAE on single images: an image file <-> a normalised latent [1, 16, 1, H/8, W/8]
// stored as the tensor `latent` in a safetensors file.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "core/device.h"
#include "device_options.h"
#include "io/image_io.h"
#include "io/safetensors.h"
#include "models/wan_vae/vae.h"

namespace duogen::cli {
namespace {

struct VaeArgs {
  std::string model;
  std::string input;
  std::string out;
  DeviceDtypeArgs placement;
  bool tiling = false;
  std::int64_t tile = 256;
  std::int64_t stride = 192;
};

wan_vae::WanVAE load(const VaeArgs& a, const DevicePlacement& placement) {
  wan_vae::VAEOptions options;
  options.dtype = placement.dtype;
  options.device = placement.device;
  options.tiling = {a.tiling, a.tile, a.tile, a.stride, a.stride};
  return wan_vae::WanVAE::load(a.model, options);
}

void add_common(CLI::App* cmd, VaeArgs& a) {
  cmd->add_option("--model", a.model, "VAE checkpoint directory or .safetensors file")->required();
  cmd->add_option("--out", a.out, "output file")->required();
  add_device_dtype_options(cmd, a.placement);
  cmd->add_flag("--tiling", a.tiling, "tile large images (bounded memory)");
  cmd->add_option("--tile", a.tile, "tile size in pixels (with --tiling)")->check(CLI::PositiveNumber);
  cmd->add_option("--tile-stride", a.stride, "tile stride in pixels (with --tiling)")
      ->check(CLI::PositiveNumber);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run_encode(const VaeArgs& a) {
  const DevicePlacement placement = resolve(a.placement);
  const at::Tensor rgb = io::read_image_rgb(a.input);
  DUOGEN_CHECK(rgb.size(0) % 8 == 0 && rgb.size(1) % 8 == 0, InvalidArgument,
               "{}: the image is {}x{}; width and height must be multiples of 8", a.input,
               rgb.size(1), rgb.size(0));
  const auto vae = load(a, placement);
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor latent = vae.encode(wan_vae::pixels_from_image(rgb)).to(at::kCPU, at::kFloat);
  spdlog::info("encoded {}x{} in {:.2f} s -> latent {}", rgb.size(1), rgb.size(0),
               seconds_since(start), latent.sizes());
  io::write_safetensors(a.out, {{"latent", latent}},
                        {{"format", "duogen-wan-vae-latent"}, {"source", a.input}});
}

void run_decode(const VaeArgs& a) {
  const DevicePlacement placement = resolve(a.placement);
  const auto file = io::SafetensorsFile::open(a.input);
  const io::TensorInfo* info = file.find("latent");
  DUOGEN_CHECK(info != nullptr, FormatError, "{}: no tensor named 'latent'", a.input);
  at::Tensor latent = file.tensor(*info).to(at::kFloat);
  if (latent.dim() == 4) latent = latent.unsqueeze(2);  // [B, 16, h, w] -> one frame
  DUOGEN_CHECK(latent.dim() == 5 && latent.size(0) == 1 && latent.size(2) == 1, InvalidArgument,
               "{}: 'latent' must be one image [1, C, 1, h, w], got {}", a.input, latent.sizes());
  const auto vae = load(a, placement);
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor pixels = vae.decode(latent);
  spdlog::info("decoded latent {} in {:.2f} s", latent.sizes(), seconds_since(start));
  io::write_png(a.out, wan_vae::image_from_pixels(pixels));
}

}  // namespace

void add_vae_command(CLI::App& app) {
  auto* vae = app.add_subcommand("vae", "Wan2.1 VAE: encode an image to a latent or decode one");
  vae->require_subcommand(1);

  auto enc = std::make_shared<VaeArgs>();
  auto* encode = vae->add_subcommand("encode", "image file -> latent safetensors (`latent`)");
  encode->add_option("--image", enc->input, "input image (PNG, JPEG, ...)")->required();
  add_common(encode, *enc);
  encode->callback([enc] { run_encode(*enc); });

  auto dec = std::make_shared<VaeArgs>();
  auto* decode = vae->add_subcommand("decode", "latent safetensors (`latent`) -> PNG");
  decode->add_option("--latent", dec->input, "latent safetensors file")->required();
  add_common(decode, *dec);
  decode->callback([dec] { run_decode(*dec); });
}

}  // namespace duogen::cli
