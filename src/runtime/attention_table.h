// The measured attention table: which backend is fastest per call site and shape on one GPU, as
// `bench_kernels --table-out FILE` writes it and `--attention-table FILE` (EngineOptions::
// attention_table) reads it into the engine's ops::AttentionDispatch.
//
//   {"format": "duogen-attention-table", "version": 1, "device": "NVIDIA H100 80GB HBM3",
//    "compute_capability": "9.0",
//    "measurements": [{"site": "dit_self", "dtype": "bf16", "head_dim": 128, "causal": false,
//                      "varlen": false, "seqlen_q": 2304, "seqlen_k": 2304,
//                      "ms": {"sdpa_cudnn": 0.21, "flash_kernel": 0.55}}, ...]}
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "kernels/ops/attention_dispatch.h"

namespace duogen::runtime {

struct AttentionTable {
  std::string device;              // the GPU it was measured on
  std::string compute_capability;  // "9.0"
  std::vector<ops::AttentionMeasurement> measurements;
};

// Throws IoError for a missing file, FormatError naming the file and the field for anything else
// (unknown keys, sites, backends or dtypes included: a table is a measurement, not a hint).
AttentionTable read_attention_table(const std::filesystem::path& path);
// Written atomically.
void write_attention_table(const std::filesystem::path& path, const AttentionTable& table);
std::string to_json(const AttentionTable& table);

}  // namespace duogen::runtime
