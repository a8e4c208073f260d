// How Wan2.1 VAE checkpoints name their tensors.
//
// The canonical names are diffusers' `AutoencoderKLWan` ones (`encoder.conv_in`,
// `encoder.down_blocks.{i}.norm1`, `decoder.up_blocks.{i}.resnets.{j}`, `quant_conv`, ...). The
// original Wan layout (`Wan2.1_VAE.pth` / Cosmos `tokenizer.pth`, converted to safetensors by
// tools/convert/wan_vae_pth_to_safetensors.py) is recognised from its tensor names and read
// through prefix aliases, following diffusers' `convert_wan_vae_to_diffusers`:
//   encoder.conv1 -> encoder.conv_in            conv1 -> quant_conv, conv2 -> post_quant_conv
//   {en,de}coder.middle.{0,1,2} -> mid_block.{resnets.0, attentions.0, resnets.1}
//   {en,de}coder.head.{0,2} -> norm_out, conv_out
//   residual.{0,2,3,6} -> norm1, conv1, norm2, conv2; shortcut -> conv_shortcut
//   encoder.downsamples.{i} -> encoder.down_blocks.{i}
//   decoder.upsamples.{k}: stage s = k / (R + 2) holds resnets 0..R (R = num_res_blocks) and,
//   at k = s * (R + 2) + R + 1, the stage's upsamplers.0.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/weight_loader.h"
#include "models/wan_vae/config.h"

namespace duogen::wan_vae {

enum class Layout { kDiffusers, kOriginal };

const char* layout_name(Layout layout);

// Throws FormatError naming the checkpoint when it is in neither layout.
Layout detect_layout(const io::Checkpoint& checkpoint);

// Prefix aliases reading the original layout as diffusers names (canonical = diffusers).
std::vector<io::PrefixAlias> original_layout_aliases(const Config& config);

// A diffusers name in the original layout, and back (names outside the map are unchanged).
std::string to_original_name(const std::string& diffusers_name, const Config& config);
std::string to_diffusers_name(const std::string& original_name, const Config& config);

io::WeightLoadOptions weight_load_options(Layout layout, const Config& config,
                                          std::optional<c10::ScalarType> dtype,
                                          c10::Device device = c10::kCPU);

}  // namespace duogen::wan_vae
