// Launchers of the fused element-wise / row kernels (see the ops/ headers for the exact
// semantics of each). Plain pointers and sizes; tensors are contiguous, same dtype unless noted.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/common/kernel_types.h"

namespace duogen::kernels {

// residual_out = x + residual (rounded to dtype); out = weight * round(residual_out * inv_rms).
struct AddRmsNormParams {
  void* out;            // [rows, dim]
  void* residual_out;   // [rows, dim]
  const void* x;        // [rows, dim]
  const void* residual; // [rows, dim]
  const void* weight;   // [dim]
  std::int64_t rows;
  std::int64_t dim;
  float eps;
  KernelDType dtype;
};
cudaError_t launch_add_rms_norm(const AddRmsNormParams& params, cudaStream_t stream);

// Rotate-half rotary embedding on x [batch, tokens, heads, head_dim] with fp32 tables cos/sin
// [table_batch, tokens, head_dim] (table_batch 1 = shared by the batch, or = batch):
//   out[i]       = x[i] cos[i] - x[i + D/2] sin[i]             (i < D/2)
//   out[i + D/2] = x[i + D/2] cos[i + D/2] + x[i] sin[i + D/2]
struct RotaryParams {
  void* out;
  const void* x;
  const float* cos;
  const float* sin;
  std::int64_t batch, tokens, heads, head_dim;  // head_dim even
  bool tables_per_batch;
  KernelDType dtype;
};
cudaError_t launch_rotary(const RotaryParams& params, cudaStream_t stream);

enum class GateActivation { kSilu, kGeluErf, kGeluTanh };

// out = act(gate) * up, element-wise over n elements, fp32 math and one rounding.
struct GatedActivationParams {
  void* out;
  const void* gate;
  const void* up;
  std::int64_t n;
  GateActivation activation;
  bool round_each_op;  // round act(gate) to dtype before the product (transformers' bf16 MLP)
  KernelDType dtype;
};
cudaError_t launch_gated_activation(const GatedActivationParams& params, cudaStream_t stream);

// out[b, s, c] = x[b, s, c] * (1 + scale[b, s / group, c]) + shift[b, s / group, c], with
// group = tokens / mod_rows (the modulation rows, e.g. one per frame).
struct AdaLnModulateParams {
  void* out;
  const void* x;
  const void* scale;
  const void* shift;
  std::int64_t batch, tokens, channels, mod_rows;
  bool round_each_op;  // round 1 + scale, then x * that, then + shift (diffusers' bf16 order)
  KernelDType dtype;
};
cudaError_t launch_adaln_modulate(const AdaLnModulateParams& params, cudaStream_t stream);

}  // namespace duogen::kernels
