// The model directory: `duogen.json` names the components of a DuoGen model and its defaults.
//
//   {"format": "duogen-model-v1",
//    "mllm": "mllm",                        Qwen2.5-VL directory (config.json + safetensors)
//    "tokenizer": "mllm",                   directory with tokenizer.json (default: mllm)
//    "dit": "dit",                          Cosmos DiT: file or directory (either layout)
//    "vae": "vae",                          Wan2.1 VAE: file or directory (either layout)
//    "connector": null,                     separate connector weights; null: inside the DiT
//    "bov_token": "<BOV>", "bov_token_id": 151665,
//    "eov_token": "<|vision_end|>", "eov_token_id": 151653,
//    "cfg_negative": "after_last_image",    see CfgNegative
//    "cfg_formula": "cosmos",               cosmos: v_c + g (v_c - v_u); standard: v_u + g (v_c - v_u)
//    "mllm_max_side": 480,                  images enter the MLLM with max side <= this (0 = off)
//    "condition_max_area": 589824,          condition frames are resized to at most this area
//    "noise": "numpy",                      numpy (Cosmos' legacy MT19937 Gaussian) | torch
//    "shift": 5.0,                          linear-shift schedule parameter
//    "condition_timestep": "same",          same: condition frames get the step's t; or "1e-4"
//    "network_time": "timestep",            the DiT's time input: timestep (Cosmos: int(1000
//                                           sigma) * 0.001) | sigma (diffusers' pipeline)
//    "defaults": {... any job option: steps, guidance, width, height, solver, schedule, ...}}
// Relative paths are relative to the manifest. Unknown keys are errors (typos must not be
// silently ignored); architecture.md §1, §7.3, §10 explain the defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "pipeline/job.h"
#include "sampling/flow/sampler_types.h"

namespace duogen::pipeline {

// Where the negative (unconditional) branch's text context ends (architecture.md §7.3).
enum class CfgNegative {
  kAfterLastImage,      // just after the last <|vision_end|> before <BOV>; with no image in the
                        // context, the template-only prefix (before the first user message text)
  kAssistantTurnStart,  // the start of the current assistant turn
  kZeroContext,         // Cosmos' unconditional branch: an all-zero context of the same length
};

enum class CfgFormula { kCosmos, kStandard };

struct ModelManifest {
  std::filesystem::path file;  // the duogen.json read, empty when assembled from parts
  std::filesystem::path mllm;
  std::filesystem::path tokenizer;
  std::filesystem::path dit;
  std::filesystem::path vae;
  std::optional<std::filesystem::path> connector;
  std::string bov_token = "<BOV>";
  std::int64_t bov_token_id = 151665;
  std::string eov_token = "<|vision_end|>";
  std::int64_t eov_token_id = 151653;
  CfgNegative cfg_negative = CfgNegative::kAfterLastImage;
  CfgFormula cfg_formula = CfgFormula::kCosmos;
  std::int64_t mllm_max_side = 480;
  std::int64_t condition_max_area = 768 * 768;
  std::string noise = "numpy";
  double shift = 5.0;
  std::optional<double> condition_timestep;  // nullopt: the step's own t
  sampling::flow::NetworkTime network_time = sampling::flow::NetworkTime::kTimestep;
  JobOptions defaults;                         // filled with the built-in defaults below
};

// The built-in job defaults (architecture.md §10: 35 UniPC steps, guidance 7, 768x768), used
// where neither duogen.json nor the job sets a value.
JobOptions builtin_defaults();

// Reads `dir/duogen.json` (or the file itself). Throws IoError if missing/unreadable,
// FormatError naming the file and key for bad values, unknown keys, or component paths that
// do not exist.
ModelManifest read_manifest(const std::filesystem::path& dir_or_file);

// Applies separately given component paths (--mllm, --dit, --vae, --tokenizer) over a manifest
// (or over the built-in defaults when `base` is nullopt); every component must end up set and
// existing, otherwise UsageError names the missing one.
ModelManifest resolve_components(std::optional<ModelManifest> base,
                                 const std::optional<std::filesystem::path>& mllm,
                                 const std::optional<std::filesystem::path>& dit,
                                 const std::optional<std::filesystem::path>& vae,
                                 const std::optional<std::filesystem::path>& tokenizer);

const char* to_string(CfgNegative rule);

}  // namespace duogen::pipeline
