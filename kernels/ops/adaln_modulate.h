// adaLN modulation of the DiT blocks: out = x * (1 + scale) + shift, computed in fp32 and
// rounded once to x's dtype (Rounding::kOnce), or rounded after each of the three operations as
// diffusers' `norm(x) * (1 + scale) + shift` is (Rounding::kPerOp). The modulation is per sample ([B, C]) or per group of tokens
// ([B, G, C]: token s of S uses row s / (S / G), e.g. one row per latent frame of a packed
// frame-major sequence).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/rounding.h"

namespace duogen::ops {

// x: [B, S, C]; scale, shift: [B, C] or [B, G, C] with S % G == 0, x's dtype. fp32 / fp16 /
// bf16 CUDA tensors use the fused kernel, everything else reference::adaln_modulate.
at::Tensor adaln_modulate(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          Rounding rounding = Rounding::kOnce);

}  // namespace duogen::ops
