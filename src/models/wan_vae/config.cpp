#include "models/wan_vae/config.h"

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::wan_vae {
namespace {

void validate(const Config& c, const std::string& file) {
  DUOGEN_CHECK(c.base_dim > 0 && c.decoder_base_dim > 0 && c.z_dim > 0 && c.num_res_blocks > 0,
               FormatError, "{}: base_dim, decoder_base_dim, z_dim and num_res_blocks must be > 0",
               file);
  DUOGEN_CHECK(!c.dim_mult.empty(), FormatError, "{}: dim_mult is empty", file);
  DUOGEN_CHECK(c.temperal_downsample.size() + 1 == c.dim_mult.size(), FormatError,
               "{}: temperal_downsample needs {} entries (one per stage but the last), got {}",
               file, c.dim_mult.size() - 1, c.temperal_downsample.size());
  for (std::size_t i = 1; i < c.dim_mult.size(); ++i) {
    // The decoder's upsample convs halve the width; the next stage's input is that half.
    DUOGEN_CHECK(c.dim_mult[i] > 0 && (c.decoder_base_dim * c.dim_mult[i]) % 2 == 0, FormatError,
                 "{}: decoder_base_dim * dim_mult[{}] must be even", file, i);
  }
  DUOGEN_CHECK(static_cast<std::int64_t>(c.latents_mean.size()) == c.z_dim &&
                   static_cast<std::int64_t>(c.latents_std.size()) == c.z_dim,
               FormatError, "{}: latents_mean and latents_std need z_dim = {} entries, got {} and {}",
               file, c.z_dim, c.latents_mean.size(), c.latents_std.size());
  for (double s : c.latents_std) {
    DUOGEN_CHECK(s > 0, FormatError, "{}: latents_std entries must be > 0, got {}", file, s);
  }
}

}  // namespace

std::vector<std::int64_t> Config::encoder_dims() const {
  std::vector<std::int64_t> dims = {base_dim};
  for (auto m : dim_mult) dims.push_back(base_dim * m);
  return dims;
}

std::vector<std::int64_t> Config::decoder_dims() const {
  std::vector<std::int64_t> dims = {decoder_base_dim * dim_mult.back()};
  for (auto it = dim_mult.rbegin(); it != dim_mult.rend(); ++it) {
    dims.push_back(decoder_base_dim * *it);
  }
  return dims;
}

std::vector<bool> Config::temperal_upsample() const {
  return {temperal_downsample.rbegin(), temperal_downsample.rend()};
}

Config Config::from_json(const io::JsonObject& j) {
  Config c;
  c.base_dim = j.get("base_dim", c.base_dim);
  c.decoder_base_dim = j.get("decoder_base_dim", c.base_dim);
  c.z_dim = j.get("z_dim", c.z_dim);
  c.dim_mult = j.get("dim_mult", c.dim_mult);
  c.num_res_blocks = j.get("num_res_blocks", c.num_res_blocks);
  c.temperal_downsample = j.get("temperal_downsample", c.temperal_downsample);
  c.in_channels = j.get("in_channels", c.in_channels);
  c.out_channels = j.get("out_channels", c.out_channels);
  c.scale_factor_temporal = j.get("scale_factor_temporal", c.scale_factor_temporal);
  c.scale_factor_spatial = j.get("scale_factor_spatial", c.scale_factor_spatial);
  c.latents_mean = j.get("latents_mean", c.latents_mean);
  c.latents_std = j.get("latents_std", c.latents_std);

  const auto attn_scales = j.get("attn_scales", std::vector<double>{});
  DUOGEN_CHECK(attn_scales.empty(), FormatError,
               "{}: attn_scales must be empty (attention only in the middle blocks), got {} "
               "entries",
               j.file(), attn_scales.size());
  DUOGEN_CHECK(!j.get("is_residual", false), FormatError,
               "{}: is_residual=true is the Wan 2.2 VAE, which is not supported", j.file());
  DUOGEN_CHECK(!j.has("patch_size"), FormatError,
               "{}: patch_size is the Wan 2.2 VAE, which is not supported", j.file());
  const double dropout = j.get("dropout", 0.0);
  DUOGEN_CHECK(dropout >= 0.0 && dropout < 1.0, FormatError, "{}: dropout {} outside [0, 1)",
               j.file(), dropout);  // inference ignores dropout; the value is only sanity-checked
  validate(c, j.file());
  return c;
}

Config Config::from_directory(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  if (!std::filesystem::exists(path)) {
    Config c;
    validate(c, "(defaults)");
    return c;
  }
  const auto json = io::JsonObject::from_file(path);
  const auto class_name = json.get<std::string>("_class_name", "AutoencoderKLWan");
  DUOGEN_CHECK(class_name == "AutoencoderKLWan", FormatError,
               "{}: _class_name is '{}', expected 'AutoencoderKLWan'", json.file(), class_name);
  return from_json(json);
}

}  // namespace duogen::wan_vae
