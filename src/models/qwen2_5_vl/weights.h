// How Qwen2.5-VL checkpoints name their tensors.
#pragma once

#include <optional>

#include "io/weight_loader.h"

namespace duogen::qwen2_5_vl {

// Canonical names are the hub's legacy layout (`model.*`, `visual.*`, `lm_head.*`); checkpoints
// re-saved by newer transformers use `model.language_model.*` and `model.visual.*`, which are
// accepted as aliases. `*.rotary_emb.inv_freq` buffers some exporters save are ignored.
io::WeightLoadOptions weight_load_options(std::optional<c10::ScalarType> dtype,
                                          c10::Device device = c10::kCPU);

}  // namespace duogen::qwen2_5_vl
