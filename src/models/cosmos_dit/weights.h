// How Cosmos-Predict2.5 DiT checkpoints name their tensors (architecture.md §12.3).
//
// Canonical names are diffusers' `CosmosTransformer3DModel` ones (`patch_embed.proj.weight`,
// `transformer_blocks.{i}.attn1.to_q.weight`, ...). The original Cosmos layout (`MiniTrainDIT`
// state dict with `net.` stripped, e.g. by tools/convert/cosmos_dit_pt_to_safetensors.py) is
// recognised from its tensor names and read through prefix aliases:
//   x_embedder.proj.1 -> patch_embed.proj        t_embedder.1 -> time_embed.t_embedder
//   t_embedding_norm -> time_embed.norm          crossattn_proj.0 (same in both)
//   blocks.{i}.adaln_modulation_{self_attn,cross_attn,mlp}.{1,2} -> transformer_blocks.{i}.norm{1,2,3}.linear_{1,2}
//   blocks.{i}.{self,cross}_attn.{q,k,v}_proj -> ...attn{1,2}.to_{q,k,v}
//   blocks.{i}.{self,cross}_attn.{q,k}_norm -> ...attn{1,2}.norm_{q,k}
//   blocks.{i}.{self,cross}_attn.output_proj -> ...attn{1,2}.to_out.0
//   blocks.{i}.mlp.layer{1,2} -> ...ff.net.0.proj, ...ff.net.2
//   final_layer.adaln_modulation.{1,2} -> norm_out.linear_{1,2}; final_layer.linear -> proj_out
// Non-parameter entries of the original checkpoints (`*._extra_state`, `accum_*` counters,
// `pos_embedder.*` RoPE tables) are ignored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/weight_loader.h"
#include "models/cosmos_dit/config.h"

namespace duogen::cosmos_dit {

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

}  // namespace duogen::cosmos_dit
