// Launcher for the fused RMSNorm kernel (see kernels/ops/rms_norm.h for the exact semantics).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/common/kernel_types.h"

namespace duogen::kernels {

struct RmsNormParams {
  void* out;           // [rows, dim], same dtype as x, contiguous
  const void* x;       // [rows, dim], contiguous
  const void* weight;  // [dim], same dtype as x
  std::int64_t rows;   // number of vectors normalised independently
  std::int64_t dim;    // length of each vector (> 0)
  float eps;           // added to the mean square before rsqrt
  KernelDType dtype;   // element type of out, x and weight
};

// Rows of up to kWarpRowMaxDim elements (the DiT's and the ViT's per-head QK-norm: 128, 80) get a
// warp each, longer rows a 256-thread block each; fp32 accumulation either way. Returns the
// launch error, if any.
inline constexpr std::int64_t kWarpRowMaxDim = 1024;
cudaError_t launch_rms_norm(const RmsNormParams& params, cudaStream_t stream);

}  // namespace duogen::kernels
