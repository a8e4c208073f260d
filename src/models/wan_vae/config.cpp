#include "models/wan_vae/config.h"

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::wan_vae {
namespace {

// ---- What each key does (diffusers 0.42.1 `AutoencoderKLWan.__init__` / _encode / _decode) ---
//
// Keys from_json reads: each is honoured, or refused by a check with a FormatError.
constexpr std::string_view kReadKeys[] = {"base_dim",
                                          "decoder_base_dim",
                                          "z_dim",
                                          "dim_mult",
                                          "num_res_blocks",
                                          "temperal_downsample",
                                          "in_channels",
                                          "out_channels",
                                          "latents_mean",
                                          "latents_std",
                                          "attn_scales",
                                          "is_residual",
                                          "patch_size",
                                          "scale_factor_spatial",
                                          "scale_factor_temporal",
                                          "clip_output",
                                          "dropout"};
// Keys accepted without effect, with the reason (dropout is read only to sanity-check it).
constexpr io::IgnoredKey kIgnoredKeys[] = {
    {"dropout", "dropout is only applied in training"},
};

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
  c.decoder_base_dim = j.get("decoder_base_dim", c.base_dim);  // diffusers: null means base_dim
  c.z_dim = j.get("z_dim", c.z_dim);
  c.dim_mult = j.get("dim_mult", c.dim_mult);
  c.num_res_blocks = j.get("num_res_blocks", c.num_res_blocks);
  c.temperal_downsample = j.get("temperal_downsample", c.temperal_downsample);
  c.in_channels = j.get("in_channels", c.in_channels);
  c.out_channels = j.get("out_channels", c.out_channels);
  c.latents_mean = j.get("latents_mean", c.latents_mean);
  c.latents_std = j.get("latents_std", c.latents_std);

  if (!j.get("attn_scales", std::vector<double>{}).empty()) {
    j.unsupported("attn_scales",
                  "attention outside the middle blocks is not implemented (the "
                  "original Wan code and diffusers disagree on where it goes, and "
                  "no Wan2.1 release uses it)");
  }
  if (j.get("is_residual", false)) {
    j.unsupported("is_residual", "the residual (Wan 2.2) up/down blocks are not implemented");
  }
  // diffusers patchifies only when patch_size is set, and patchify(x, 1) returns x unchanged.
  if (j.has("patch_size") && j.get<std::int64_t>("patch_size", 1) != 1) {
    j.unsupported("patch_size", "the patchified (Wan 2.2) VAE is not implemented");
  }
  // The network compresses space by 2 per stage but the last and time by 2 per true
  // temperal_downsample. diffusers reads scale_factor_spatial as that ratio (tiling) and encodes
  // in chunks of 4 frames whatever scale_factor_temporal says; duogen uses both the same way, so
  // they must describe the network (null: the network's own ratio).
  const std::int64_t spatial = std::int64_t{1} << (c.dim_mult.empty() ? 0 : c.dim_mult.size() - 1);
  std::int64_t temporal = 1;
  for (bool t : c.temperal_downsample) temporal *= t ? 2 : 1;
  c.scale_factor_spatial = j.get("scale_factor_spatial", spatial);
  c.scale_factor_temporal = j.get("scale_factor_temporal", temporal);
  if (c.scale_factor_spatial != spatial) {
    j.unsupported("scale_factor_spatial",
                  fmt::format("the network (dim_mult with {} stages) compresses space by {}",
                              c.dim_mult.size(), spatial));
  }
  if (c.scale_factor_temporal != temporal || temporal != 4) {
    j.unsupported("scale_factor_temporal",
                  fmt::format("the network (temperal_downsample) compresses time by {}, and "
                              "diffusers encodes 4 frames per chunk whatever the config says, "
                              "which matches only a 4x temporal compression",
                              temporal));
  }
  // diffusers 0.42.1 has no clip_output and always clamps decoded pixels to [-1, 1].
  if (j.has("clip_output") && !j.get("clip_output", true)) {
    j.unsupported("clip_output", "diffusers 0.42.1 always clamps the decoded output to [-1, 1]");
  }
  const double dropout = j.get("dropout", 0.0);
  DUOGEN_CHECK(dropout >= 0.0 && dropout < 1.0, FormatError, "{}: dropout {} outside [0, 1)",
               j.file(), dropout);  // inference ignores dropout; the value is only sanity-checked
  validate(c, j.file());
  io::warn_unknown_keys(j, unknown_keys(j));
  return c;
}

std::vector<std::string> Config::unknown_keys(const io::JsonObject& j) {
  return io::unknown_keys(j, kReadKeys, {io::diffusers_common_keys(), kIgnoredKeys});
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
