// Shared by the runtime tests: the tiny model `duogen init-tiny` writes (made once per test
// binary) and a config-only directory with the real model shapes.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace duogen::testing {

// <temp>/model: the tiny DuoGen model (weights on disk). Written on first use, removed at exit.
const std::filesystem::path& tiny_model_dir();

// <temp>/real: duogen.json plus mllm/config.json with the Qwen2.5-VL-7B-Instruct shapes
// (architecture.md §4.1, §5.1) and empty dit/ and vae/ directories, which the config readers
// fill with the released Cosmos-Predict2.5-2B and Wan2.1 defaults (§8.1, §11.1). No weights:
// the planner counts them from the configs.
const std::filesystem::path& real_config_dir();

// <temp>/real-snapshot: a config-only diffusers snapshot of the published Cosmos-Predict2.5-2B
// pipeline: model_index.json, text_encoder/config.json with the Cosmos-Reason1-7B (=
// Qwen2.5-VL-7B) shapes, transformer/config.json of the 2B DiT (architecture.md §8.1, §12.3),
// vae/config.json of the Wan2.1 VAE (§11.1), the published scheduler config, an empty
// tokenizer/. No weights: the planner counts them from the configs.
const std::filesystem::path& real_snapshot_dir();

// The Qwen2.5-VL-7B config.json both real directories use (the hub's flat layout).
nlohmann::json qwen2_5_vl_7b_config();

}  // namespace duogen::testing
