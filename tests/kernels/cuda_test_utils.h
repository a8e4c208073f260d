// Helpers of the GPU kernel tests: poisoning of the allocator, the error measure and the naive
// attention the flash-attention error rule compares against.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace duogen::testing_cuda {

// Fills blocks of the CUDA caching allocator with NaN and frees them again, so that the next
// at::empty of a similar size (an op's output or split-K scratch buffer) very likely reuses NaN
// memory: a kernel that leaves part of its output unwritten then fails the finiteness and error
// checks instead of passing on leftover zeros or stale correct values.
inline void poison_cuda_allocator(std::int64_t bytes) {
  std::vector<at::Tensor> blocks;
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  for (const std::int64_t b : {bytes, 2 * bytes, 4 * bytes, 16 * bytes}) {
    blocks.push_back(at::full({std::max<std::int64_t>(b / 4, 1)},
                              std::numeric_limits<float>::quiet_NaN(), opts));
  }
  // Freed here; the fills are ordered before any later work on the same stream.
}

// Max |a - b| in fp64 (NaN propagates: a NaN anywhere makes every comparison below fail).
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kCPU, at::kDouble) - b.to(at::kCPU, at::kDouble)).abs().max().item<double>();
}

// Naive attention of one head group in `dtype` arithmetic: q [Hq, Sq, D], k/v [Hkv, Sk, D],
// bottom-right causal. dtype = kFloat gives the accurate reference (inputs are the low-precision
// tensors themselves, so both references see identical values).
inline at::Tensor naive_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           bool causal, double scale, at::ScalarType dtype) {
  const std::int64_t groups = q.size(0) / k.size(0);
  const at::Tensor qd = q.to(dtype);
  const at::Tensor kd = k.to(dtype).repeat_interleave(groups, 0);
  const at::Tensor vd = v.to(dtype).repeat_interleave(groups, 0);
  const std::int64_t sq = q.size(1), sk = k.size(1);
  if (sk == 0) return at::zeros_like(qd);
  at::Tensor scores = at::matmul(qd, kd.transpose(-1, -2)) * scale;
  if (causal) {
    const auto opts = at::TensorOptions().device(q.device()).dtype(at::kLong);
    const at::Tensor keep =
        at::arange(sk, opts).unsqueeze(0) <= at::arange(sq, opts).unsqueeze(1) + (sk - sq);
    scores = scores.masked_fill(keep.logical_not(), -INFINITY);
  }
  return at::matmul(at::softmax(scores, -1), vd);
}

}  // namespace duogen::testing_cuda
