#include "models/wan_vae/weights.h"

#include <fmt/format.h>

#include "core/check.h"

namespace duogen::wan_vae {
namespace {

// Residual block parameter groups: original `residual.{0,2,3,6}` / `shortcut`.
constexpr std::pair<const char*, const char*> kResidualParts[] = {
    {"norm1.", "residual.0."}, {"conv1.", "residual.2."},      {"norm2.", "residual.3."},
    {"conv2.", "residual.6."}, {"conv_shortcut.", "shortcut."}};

void add_residual(std::vector<io::PrefixAlias>& out, const std::string& canonical,
                  const std::string& original) {
  for (const auto& [c, o] : kResidualParts) out.push_back({canonical + c, original + o});
}

void add_side(std::vector<io::PrefixAlias>& out, const std::string& side) {
  out.push_back({side + ".conv_in.", side + ".conv1."});
  add_residual(out, side + ".mid_block.resnets.0.", side + ".middle.0.");
  out.push_back({side + ".mid_block.attentions.0.", side + ".middle.1."});
  add_residual(out, side + ".mid_block.resnets.1.", side + ".middle.2.");
  out.push_back({side + ".norm_out.", side + ".head.0."});
  out.push_back({side + ".conv_out.", side + ".head.2."});
}

}  // namespace

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kDiffusers:
      return "diffusers AutoencoderKLWan";
    case Layout::kOriginal:
      return "original Wan (Wan2.1_VAE.pth)";
  }
  return "?";
}

Layout detect_layout(const io::Checkpoint& checkpoint) {
  if (checkpoint.contains("encoder.conv_in.weight")) return Layout::kDiffusers;
  if (checkpoint.contains("encoder.conv1.weight")) return Layout::kOriginal;
  const auto names = checkpoint.names();
  DUOGEN_FAIL(FormatError,
              "{}: not a Wan2.1 VAE checkpoint: neither 'encoder.conv_in.weight' (diffusers) nor "
              "'encoder.conv1.weight' (original Wan) is present ({} tensors, first: '{}')",
              checkpoint.describe(), names.size(), names.empty() ? "" : names.front());
}

std::vector<io::PrefixAlias> original_layout_aliases(const Config& config) {
  std::vector<io::PrefixAlias> out;
  out.push_back({"quant_conv.", "conv1."});
  out.push_back({"post_quant_conv.", "conv2."});
  add_side(out, "encoder");
  add_side(out, "decoder");

  // Encoder: the flat block list has the same indices in both layouts.
  const std::size_t stages = config.dim_mult.size();
  std::int64_t index = 0;
  for (std::size_t s = 0; s < stages; ++s) {
    for (std::int64_t r = 0; r < config.num_res_blocks; ++r, ++index) {
      add_residual(out, fmt::format("encoder.down_blocks.{}.", index),
                   fmt::format("encoder.downsamples.{}.", index));
    }
    if (s + 1 < stages) {
      out.push_back({fmt::format("encoder.down_blocks.{}.", index),
                     fmt::format("encoder.downsamples.{}.", index)});
      ++index;
    }
  }
  // Decoder: num_res_blocks + 1 residual blocks per stage, then the upsampler.
  index = 0;
  for (std::size_t s = 0; s < stages; ++s) {
    for (std::int64_t r = 0; r <= config.num_res_blocks; ++r, ++index) {
      add_residual(out, fmt::format("decoder.up_blocks.{}.resnets.{}.", s, r),
                   fmt::format("decoder.upsamples.{}.", index));
    }
    if (s + 1 < stages) {
      out.push_back({fmt::format("decoder.up_blocks.{}.upsamplers.0.", s),
                     fmt::format("decoder.upsamples.{}.", index)});
      ++index;
    }
  }
  return out;
}

std::string to_original_name(const std::string& diffusers_name, const Config& config) {
  return io::to_alternative_name(diffusers_name, original_layout_aliases(config));
}

std::string to_diffusers_name(const std::string& original_name, const Config& config) {
  return io::to_canonical_name(original_name, original_layout_aliases(config));
}

io::WeightLoadOptions weight_load_options(Layout layout, const Config& config,
                                          std::optional<c10::ScalarType> dtype,
                                          c10::Device device) {
  io::WeightLoadOptions options;
  options.dtype = dtype;
  options.device = device;
  if (layout == Layout::kOriginal) options.aliases = original_layout_aliases(config);
  return options;
}

}  // namespace duogen::wan_vae
