// Where a fused elementwise op rounds to the storage dtype. kOnce: fp32 math, one rounding (the
// most accurate result). kPerOp: after every operation of the unfused PyTorch expression, as
// ATen's fp16/bf16 elementwise ops do (each computes in fp32 and rounds its own result) -- what the
// models use, so that the fused kernels give the bits transformers and diffusers give in bf16.
#pragma once

namespace duogen::ops {

enum class Rounding { kOnce, kPerOp };

}  // namespace duogen::ops
