// `duogen init-tiny`: a complete DuoGen model directory with tiny random weights, written in
// seconds, so that the whole product (interleaved generation, t2i, editing, bench) can be run
// and tested without downloading anything. Every component has the real structure (Qwen2.5-VL
// with window + full-attention vision blocks and M-RoPE; Cosmos DiT with adaLN-LoRA, QK-norm,
// 3D RoPE and the crossattn_proj connector over all MLLM layers; the causal Wan VAE) at small
// widths, and the real Qwen tokenizer so prompts and streamed text are real text.
#pragma once

#include "duogen/duogen.h"

namespace duogen::pipeline {

// The options and the entry point are public (duogen/duogen.h); defined in tiny_model.cpp.
using duogen::TinyModelOptions;
using duogen::write_tiny_model;

}  // namespace duogen::pipeline
