// Rotary position embedding, "rotate-half" layout, from precomputed cos/sin tables. M-RoPE
// (Qwen2.5-VL text), the 2D rotary of the ViT and the 3D rotary of the Cosmos DiT differ only in
// how the tables are built; applying them is the same:
//   out = x * cos + rotate_half(x) * sin,   rotate_half(x) = [-x[D/2:], x[:D/2]]
// computed in fp32 and rounded once to x's dtype.
#pragma once

#include <ATen/core/Tensor.h>

namespace duogen::ops {

// x: [B, S, H, D] (tokens before heads, as the projections produce them), D even.
// cos, sin: [S, D] (shared by the batch) or [B, S, D], any float dtype. Returns x's shape/dtype.
// fp32 / fp16 / bf16 CUDA tensors use the kernel, everything else reference::apply_rotary.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace duogen::ops
