#include "image/resample.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"

namespace duogen::image {
namespace {

// Pillow's 8-bit coefficients: 32 bits minus 8 for the pixel value minus 2 of headroom for
// the negative lobes and sums above 1.
constexpr int kPrecisionBits = 32 - 8 - 2;

// Cubic convolution kernel with a = -0.5 (Keys), support 2.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}
constexpr double kBicubicSupport = 2.0;

// Triangle kernel, support 1 (Pillow's bilinear_filter).
double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}
constexpr double kBilinearSupport = 1.0;

struct Filter {
  double (*weight)(double);
  double support;
};
constexpr Filter kBicubic{bicubic_filter, kBicubicSupport};
constexpr Filter kBilinear{bilinear_filter, kBilinearSupport};

// Fixed-point filter taps for one axis: output sample i reads `count[i]` input samples from
// `first[i]` with weights `taps[i * ksize + j]`.
struct AxisCoefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> taps;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size): the same double
// arithmetic in the same order, so the rounded coefficients are identical.
AxisCoefficients precompute(int in_size, int out_size, const Filter& filter) {
  const float in0 = 0.0f, in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);  // widen the support only when downscaling
  const double support = filter.support * filterscale;
  AxisCoefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.taps.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // Pillow rounds with (int)(v + 0.5), i.e. truncation toward zero.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
      const double scaled = k[x] * (1 << kPrecisionBits);
      c.taps[static_cast<std::size_t>(xx) * c.ksize + x] =
          static_cast<std::int32_t>(k[x] < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.first[xx] = xmin;
    c.count[xx] = std::max(xmax, 0);
  }
  return c;
}

// Pillow's clip8: the accumulator's integer part (arithmetic shift), clamped to [0, 255].
inline std::uint8_t clip8(std::int32_t v) {
  return static_cast<std::uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255));
}

// Filters along one axis of an interleaved uint8 image seen as [outer, along, inner] (inner =
// the contiguous run of values that share a tap: channels for the horizontal pass, whole rows
// for the vertical one). `in_offset` is the first `along` index the taps are relative to.
void filter_axis(const std::uint8_t* in,
                 std::uint8_t* out,
                 std::int64_t outer,
                 std::int64_t in_along,
                 std::int64_t inner,
                 const AxisCoefficients& c,
                 std::int64_t out_along) {
  constexpr std::int32_t kHalf = 1 << (kPrecisionBits - 1);
  std::vector<std::int32_t> acc(inner);
  for (std::int64_t o = 0; o < outer; ++o) {
    const std::uint8_t* src = in + o * in_along * inner;
    std::uint8_t* dst = out + o * out_along * inner;
    for (std::int64_t i = 0; i < out_along; ++i) {
      std::fill(acc.begin(), acc.end(), kHalf);
      const std::int32_t* k = &c.taps[static_cast<std::size_t>(i) * c.ksize];
      for (int t = 0; t < c.count[i]; ++t) {
        const std::uint8_t* row = src + (c.first[i] + t) * inner;
        for (std::int64_t j = 0; j < inner; ++j) acc[j] += static_cast<std::int32_t>(row[j]) * k[t];
      }
      for (std::int64_t j = 0; j < inner; ++j) dst[i * inner + j] = clip8(acc[j]);
    }
  }
}

// The separable two-pass resample both public functions share. `name` names the caller in errors.
at::Tensor resample(const at::Tensor& rgb,
                    std::int64_t out_height,
                    std::int64_t out_width,
                    const Filter& filter,
                    const char* name) {
  DUOGEN_CHECK(rgb.dim() == 3 && rgb.scalar_type() == at::kByte && rgb.size(0) > 0 &&
                   rgb.size(1) > 0 && rgb.size(2) > 0,
               InvalidArgument, "{}: expected a non-empty uint8 [H, W, C] image, got {} {}", name,
               c10::toString(rgb.scalar_type()), rgb.sizes());
  DUOGEN_CHECK(out_height > 0 && out_width > 0 && out_height <= INT32_MAX / 64 &&
                   out_width <= INT32_MAX / 64,
               InvalidArgument, "{}: invalid output size {}x{}", name, out_height, out_width);
  const at::Tensor in = rgb.to(at::kCPU).contiguous();
  const std::int64_t in_h = in.size(0), in_w = in.size(1), channels = in.size(2);
  if (in_h == out_height && in_w == out_width) return in.clone();  // Pillow returns a copy

  const AxisCoefficients horiz =
      precompute(static_cast<int>(in_w), static_cast<int>(out_width), filter);
  AxisCoefficients vert = precompute(static_cast<int>(in_h), static_cast<int>(out_height), filter);
  at::Tensor source = in;
  if (in_w != out_width) {
    // Horizontal pass over just the rows the vertical taps read, then shift those taps.
    const int row_first = vert.first.front();
    const int row_last = vert.first.back() + vert.count.back();
    const at::Tensor rows = in.slice(0, row_first, row_last).contiguous();
    at::Tensor temp = at::empty({row_last - row_first, out_width, channels}, in.options());
    filter_axis(rows.data_ptr<std::uint8_t>(), temp.data_ptr<std::uint8_t>(), rows.size(0), in_w,
                channels, horiz, out_width);
    for (int& f : vert.first) f -= row_first;
    source = temp;
  }
  if (in_h == out_height) return source;
  at::Tensor out = at::empty({out_height, source.size(1), channels}, in.options());
  // Vertical pass: one "outer" block, taps along rows, a whole row (W * C values) per tap.
  filter_axis(source.data_ptr<std::uint8_t>(), out.data_ptr<std::uint8_t>(), 1, source.size(0),
              source.size(1) * channels, vert, out_height);
  return out;
}

}  // namespace

at::Tensor resize_bicubic(const at::Tensor& rgb, std::int64_t out_height, std::int64_t out_width) {
  return resample(rgb, out_height, out_width, kBicubic, "resize_bicubic");
}

at::Tensor resize_bilinear(const at::Tensor& rgb, std::int64_t out_height, std::int64_t out_width) {
  return resample(rgb, out_height, out_width, kBilinear, "resize_bilinear");
}

}  // namespace duogen::image
