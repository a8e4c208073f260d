#include "sampling/flow/noise.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/check.h"

namespace duogen::sampling::flow {
namespace {

constexpr std::int64_t kMaxSeed = 0xffffffffLL;

std::uint32_t checked_word(std::int64_t value, const char* what) {
  DUOGEN_CHECK(value >= 0 && value <= kMaxSeed, InvalidArgument,
               "numpy RandomState: {} must be between 0 and 2**32 - 1, got {}", what, value);
  return static_cast<std::uint32_t>(value);
}

}  // namespace

NumpyRandomState::NumpyRandomState(std::int64_t seed) { init_genrand(checked_word(seed, "seed")); }

NumpyRandomState::NumpyRandomState(const std::vector<std::int64_t>& key) {
  DUOGEN_CHECK(!key.empty(), InvalidArgument, "numpy RandomState: the seed array is empty");
  std::vector<std::uint32_t> words;
  words.reserve(key.size());
  for (const std::int64_t k : key) words.push_back(checked_word(k, "every seed array word"));
  // init_by_array (Matsumoto & Nishimura 2002, as numpy's mt19937_init_by_array).
  init_genrand(19650218U);
  const int length = static_cast<int>(words.size());
  int i = 1;
  int j = 0;
  for (int k = std::max(kStateSize, length); k > 0; --k) {
    key_[i] = (key_[i] ^ ((key_[i - 1] ^ (key_[i - 1] >> 30)) * 1664525U)) + words[j] +
              static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= kStateSize) {
      key_[0] = key_[kStateSize - 1];
      i = 1;
    }
    if (j >= length) j = 0;
  }
  for (int k = kStateSize - 1; k > 0; --k) {
    key_[i] = (key_[i] ^ ((key_[i - 1] ^ (key_[i - 1] >> 30)) * 1566083941U)) -
              static_cast<std::uint32_t>(i);
    ++i;
    if (i >= kStateSize) {
      key_[0] = key_[kStateSize - 1];
      i = 1;
    }
  }
  key_[0] = 0x80000000U;  // MSB set: a non-zero initial state
  pos_ = kStateSize;
  has_gauss_ = false;
  gauss_ = 0.0;
}

void NumpyRandomState::init_genrand(std::uint32_t seed) {
  key_[0] = seed;
  for (int i = 1; i < kStateSize; ++i) {
    key_[i] = 1812433253U * (key_[i - 1] ^ (key_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  }
  pos_ = kStateSize;
  has_gauss_ = false;
  gauss_ = 0.0;
}

void NumpyRandomState::generate() {
  constexpr int kShift = 397;
  constexpr std::uint32_t kMatrixA = 0x9908b0dfU;
  constexpr std::uint32_t kUpper = 0x80000000U;
  constexpr std::uint32_t kLower = 0x7fffffffU;
  const auto twist = [&](int a, int b, int c) {
    const std::uint32_t y = (key_[a] & kUpper) | (key_[b] & kLower);
    key_[a] = key_[c] ^ (y >> 1) ^ ((y & 1U) != 0U ? kMatrixA : 0U);
  };
  int i = 0;
  for (; i < kStateSize - kShift; ++i) twist(i, i + 1, i + kShift);
  for (; i < kStateSize - 1; ++i) twist(i, i + 1, i + kShift - kStateSize);
  twist(kStateSize - 1, 0, kShift - 1);
  pos_ = 0;
}

std::uint32_t NumpyRandomState::next_uint32() {
  if (pos_ == kStateSize) generate();
  std::uint32_t y = key_[pos_++];
  // Tempering.
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

double NumpyRandomState::next_double() {
  const std::int32_t a = static_cast<std::int32_t>(next_uint32() >> 5);
  const std::int32_t b = static_cast<std::int32_t>(next_uint32() >> 6);
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyRandomState::standard_normal() {
  if (has_gauss_) {
    has_gauss_ = false;
    const double cached = gauss_;
    gauss_ = 0.0;
    return cached;
  }
  double x1 = 0.0;
  double x2 = 0.0;
  double r2 = 0.0;
  do {  // a point uniform in the unit disc, origin excluded
    x1 = 2.0 * next_double() - 1.0;
    x2 = 2.0 * next_double() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  // Polar Box-Muller: f*x2 is returned now, f*x1 kept for the next call.
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

at::Tensor NumpyRandomState::standard_normal(at::IntArrayRef shape, at::ScalarType dtype) {
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  double* data = out.data_ptr<double>();
  const std::int64_t n = out.numel();
  for (std::int64_t k = 0; k < n; ++k) data[k] = standard_normal();
  return dtype == at::kDouble ? out : out.to(dtype);
}

at::Tensor numpy_noise(at::IntArrayRef shape, std::int64_t seed, at::ScalarType dtype) {
  NumpyRandomState state(seed);
  return state.standard_normal(shape, dtype);
}

at::Tensor torch_noise(at::IntArrayRef shape, std::uint64_t seed, at::ScalarType dtype) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // No lock here: at::randn takes the generator's mutex itself.
  return at::randn(shape, gen, at::TensorOptions().dtype(dtype));
}

}  // namespace duogen::sampling::flow
