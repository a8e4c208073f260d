// Initial noise for the sampler (architecture.md §10.6), reproducible against the two Python
// references bit for bit:
//  - Cosmos: numpy's legacy RandomState(seed).standard_normal(shape) -> float32
//    (imaginaire/utils/misc.py arch_invariant_rand): MT19937 seeded as numpy seeds it, 53-bit
//    doubles, the polar Box-Muller method that caches its second value;
//  - diffusers: torch.randn(shape, generator=torch.Generator().manual_seed(seed)) on the CPU.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <array>
#include <cstdint>
#include <vector>

namespace duogen::sampling::flow {

// numpy.random.RandomState with the legacy Gaussian generator (numpy/random/_mt19937.pyx,
// src/mt19937/mt19937.c, src/legacy/legacy-distributions.c: legacy_gauss).
class NumpyRandomState {
 public:
  // RandomState(seed) for an integer seed: init_genrand. Throws InvalidArgument outside
  // [0, 2^32 - 1], as numpy raises.
  explicit NumpyRandomState(std::int64_t seed);
  // RandomState(key) for a 1-D array seed: init_by_array over the words (each in [0, 2^32 - 1]).
  explicit NumpyRandomState(const std::vector<std::int64_t>& key);

  std::uint32_t next_uint32();
  double next_double();      // random_sample(): (a >> 5) * 2^26 + (b >> 6), over 2^53
  double standard_normal();  // one legacy_gauss draw
  // standard_normal(shape) in C order, float64 (cast to float32 as Cosmos does with .to()).
  at::Tensor standard_normal(at::IntArrayRef shape, at::ScalarType dtype = at::kDouble);

 private:
  void init_genrand(std::uint32_t seed);
  void generate();

  static constexpr int kStateSize = 624;
  std::array<std::uint32_t, kStateSize> key_{};
  int pos_ = kStateSize;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

// Cosmos' noise: NumpyRandomState(seed).standard_normal(shape) cast to `dtype` (float32 in Cosmos).
at::Tensor numpy_noise(at::IntArrayRef shape, std::int64_t seed, at::ScalarType dtype = at::kFloat);

// diffusers' noise: at::randn on the CPU from a CPU generator seeded with `seed`, equal to
// torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype).
at::Tensor torch_noise(at::IntArrayRef shape,
                       std::uint64_t seed,
                       at::ScalarType dtype = at::kFloat);

}  // namespace duogen::sampling::flow
