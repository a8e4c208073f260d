// Plain-ATen attention: the CPU path, the test oracle for the CUDA kernels, and the definition of
// the ops in kernels/ops/attention.h (same shapes and semantics).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/attention.h"

namespace duogen::reference {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const ops::AttentionOptions& options);

at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            const ops::AttentionOptions& options);

}  // namespace duogen::reference
