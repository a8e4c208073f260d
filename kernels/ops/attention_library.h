// The fused attention kernels libtorch carries, called through their ATen entry points with the
// engine's layouts and conventions (internal to kernels/ops/attention.cpp and the tests). Each
// computes exactly what reference::attention defines for the problems attention_dispatch.cpp
// declares it eligible for; callers check eligibility first.
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/ops/attention.h"

namespace duogen::ops::library {

// Dense: q [B, Hq, Sq, D], k/v [B, Hkv, Sk, D] -> [B, Hq, Sq, D]; `causal` bottom-right.
at::Tensor flash_dense(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                       double scale);
at::Tensor cudnn_dense(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                       double scale);
at::Tensor efficient_dense(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           bool causal, double scale);

// Varlen: q [Nq, Hq, D], k/v [Nk, Hkv, D] -> [Nq, Hq, D]; layout.cu_*_device defined.
at::Tensor flash_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                        const VarlenLayout& layout, bool causal, double scale);
at::Tensor efficient_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const VarlenLayout& layout, bool causal, double scale);

}  // namespace duogen::ops::library
