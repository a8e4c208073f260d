// `duogen init-tiny`: a complete DuoGen model directory with tiny random weights, written in
// seconds, so that the whole product (interleaved generation, t2i, editing, bench) can be run
// and tested without downloading anything. Every component has the real structure (Qwen2.5-VL
// with window + full-attention vision blocks and M-RoPE; Cosmos DiT with adaLN-LoRA, QK-norm,
// 3D RoPE and the crossattn_proj connector over all MLLM layers; the causal Wan VAE) at small
// widths, and the real Qwen tokenizer so prompts and streamed text are real text.
#pragma once

#include <cstdint>
#include <filesystem>

namespace duogen::pipeline {

struct TinyModelOptions {
  std::filesystem::path tokenizer_dir;  // holds tokenizer.json (+ tokenizer_config.json)
  std::uint64_t seed = 0;
  bool overwrite = false;
};

// Writes <out>/{duogen.json, mllm/, dit/, vae/} (atomically: a staging directory renamed into
// place). The weights are made by building each model on a materialising WeightStore, so the
// files hold exactly the tensors the engine's loaders ask for. Throws IoError/InvalidArgument
// naming the problem (out exists and !overwrite, tokenizer missing).
void write_tiny_model(const std::filesystem::path& out, const TinyModelOptions& options);

}  // namespace duogen::pipeline
