// How many bytes a component's weights take at the compute dtype, without loading them.
//
// Two sources, same answer for the same network:
//  - checkpoint headers: every tensor of the safetensors files (names, shapes, dtypes only);
//  - a config alone (no weights on disk): the model is built on a materialising WeightStore whose
//    tensors live on the meta device (shapes, no storage), so the census holds exactly the tensors
//    the engine's loaders ask for, with no parameter-count formula to keep in sync with the models.
// Floating tensors count at the compute dtype (the loaders convert them); integer and bool tensors
// keep their stored size.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "core/dtype.h"
#include "io/checkpoint.h"

namespace duogen::qwen2_5_vl {
struct Config;
}
namespace duogen::cosmos_dit {
struct Config;
}
namespace duogen::wan_vae {
struct Config;
}

namespace duogen::runtime {

// Element counts of one part, kept apart by kind so the bytes can be asked for at any dtype.
struct PartCensus {
  std::int64_t floating = 0;      // elements of floating tensors (converted to the compute dtype)
  std::int64_t fixed = 0;         // elements of integer/bool tensors (kept as stored)
  std::uint64_t fixed_bytes = 0;  // their stored bytes
};

struct WeightCensus {
  std::map<std::string, PartCensus> parts;  // by part name (text, vision, dit, connector, vae)
  std::string source;                       // what was read, for reports
  bool from_config = false;

  std::int64_t parameters() const;
  // Bytes once loaded for compute in `dtype`: floating elements * sizeof(dtype) + fixed bytes.
  std::uint64_t bytes(c10::ScalarType dtype) const;
  std::uint64_t part_bytes(const std::string& part, c10::ScalarType dtype) const;
  void add(const std::string& part, std::int64_t numel, DType stored);
};

// Maps a tensor name to the part it counts under.
using PartOf = std::function<std::string(const std::string& name)>;

WeightCensus census_checkpoint(const io::Checkpoint& checkpoint, const PartOf& part_of);

// True if `path` is a .safetensors file or a directory with an index (transformers' or
// diffusers' name) or .safetensors files (what io::Checkpoint::open accepts); false for a
// directory holding only a config.
bool has_weights(const std::filesystem::path& path);

// Parts: "text" (embedding, decoder layers, final norm), "head" (an untied lm_head.weight) and
// "vision" (`visual.*`).
std::string qwen_part(const std::string& name);
// Parts: "connector" (`crossattn_proj.*`) and "dit".
std::string dit_part(const std::string& name);

// Text model and vision tower.
WeightCensus census_qwen_config(const qwen2_5_vl::Config& config);
// DiT with its connector (part "connector").
WeightCensus census_dit_config(const cosmos_dit::Config& config);
WeightCensus census_vae_config(const wan_vae::Config& config);

}  // namespace duogen::runtime
