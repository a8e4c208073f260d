#include "models/cosmos_dit/weights.h"

#include <fmt/format.h>

#include "core/check.h"

namespace duogen::cosmos_dit {
namespace {

// Within one attention module: diffusers suffix -> original suffix.
constexpr std::pair<const char*, const char*> kAttentionParts[] = {
    {"to_q.", "q_proj."},   {"to_k.", "k_proj."},   {"to_v.", "v_proj."},
    {"norm_q.", "q_norm."}, {"norm_k.", "k_norm."}, {"to_out.0.", "output_proj."}};

}  // namespace

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kDiffusers:
      return "diffusers CosmosTransformer3DModel";
    case Layout::kOriginal:
      return "original Cosmos (MiniTrainDIT)";
  }
  return "?";
}

Layout detect_layout(const io::Checkpoint& checkpoint) {
  if (checkpoint.contains("patch_embed.proj.weight")) return Layout::kDiffusers;
  if (checkpoint.contains("x_embedder.proj.1.weight")) return Layout::kOriginal;
  const auto names = checkpoint.names();
  DUOGEN_FAIL(FormatError,
              "{}: not a Cosmos DiT checkpoint: neither 'patch_embed.proj.weight' (diffusers) nor "
              "'x_embedder.proj.1.weight' (original Cosmos, 'net.' stripped) is present ({} "
              "tensors, first: '{}')",
              checkpoint.describe(), names.size(), names.empty() ? "" : names.front());
}

std::vector<io::PrefixAlias> original_layout_aliases(const Config& config) {
  std::vector<io::PrefixAlias> out = {
      {"patch_embed.proj.", "x_embedder.proj.1."},
      {"time_embed.t_embedder.", "t_embedder.1."},
      {"time_embed.norm.", "t_embedding_norm."},
      {"norm_out.linear_1.", "final_layer.adaln_modulation.1."},
      {"norm_out.linear_2.", "final_layer.adaln_modulation.2."},
      {"proj_out.", "final_layer.linear."},
  };
  constexpr std::pair<const char*, const char*> kNorms[] = {
      {"norm1", "adaln_modulation_self_attn"},
      {"norm2", "adaln_modulation_cross_attn"},
      {"norm3", "adaln_modulation_mlp"}};
  for (std::int64_t i = 0; i < config.num_layers; ++i) {
    const std::string d = fmt::format("transformer_blocks.{}.", i);
    const std::string o = fmt::format("blocks.{}.", i);
    for (const auto& [dn, on] : kNorms) {
      out.push_back({d + dn + ".linear_1.", o + on + ".1."});
      out.push_back({d + dn + ".linear_2.", o + on + ".2."});
    }
    for (const auto& [da, oa] : {std::pair{"attn1.", "self_attn."}, std::pair{"attn2.", "cross_attn."}}) {
      for (const auto& [dp, op] : kAttentionParts) {
        out.push_back({d + da + dp, o + oa + op});
      }
    }
    out.push_back({d + "ff.net.0.proj.", o + "mlp.layer1."});
    out.push_back({d + "ff.net.2.", o + "mlp.layer2."});
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
  if (layout == Layout::kOriginal) {
    options.aliases = original_layout_aliases(config);
    // Buffers and Transformer Engine state the original checkpoints carry (architecture.md §12.2).
    options.ignored_suffixes = {"._extra_state",
                                "accum_video_sample_counter",
                                "accum_image_sample_counter",
                                "accum_iteration",
                                "accum_train_in_hours",
                                "pos_embedder.seq",
                                "pos_embedder.dim_spatial_range",
                                "pos_embedder.dim_temporal_range"};
  }
  return options;
}

}  // namespace duogen::cosmos_dit
