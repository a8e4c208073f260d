// bench_kernels: TFLOP/s of the flash-attention kernels (ops::attention / ops::varlen_attention)
// against torch's SDPA (flash and cuDNN backends, each forced in turn) on the engine's attention
// shapes, in one run on the same inputs; prints a table with the ratios. Needs a GPU and a build
// with -DDUOGEN_CUDA=ON; otherwise it says so and exits with status 1.
//
//   bench_kernels [--dtype bf16|fp16] [--iters N]
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ops/attention.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#endif

namespace {

#ifdef DUOGEN_WITH_CUDA
struct Shape {
  std::string name;
  std::int64_t batch, heads_q, heads_kv, sq, sk, head_dim;
  bool causal;
  std::int64_t window;  // > 0: packed varlen windows of this many tokens (sq = sk = total)
};

// The engine's shapes (issue #9): Qwen2.5-VL ViT windows (16 heads, d 80), Cosmos DiT frames
// (16 heads, d 128), Qwen2.5-7B prefill (28 query / 4 key heads, d 128) and decode.
std::vector<Shape> shapes() {
  return {
      {"vit windows 256x64", 1, 16, 16, 256 * 64, 256 * 64, 80, false, 64},
      {"dit 2304", 1, 16, 16, 2304, 2304, 128, false, 0},
      {"dit 6912", 1, 16, 16, 6912, 6912, 128, false, 0},
      {"dit 17600", 1, 16, 16, 17600, 17600, 128, false, 0},
      {"llm prefill 4k gqa", 1, 28, 4, 4096, 4096, 128, true, 0},
      {"decode 1k", 1, 28, 4, 1, 1024, 128, true, 0},
      {"decode 8k", 1, 28, 4, 1, 8192, 128, true, 0},
      {"decode 32k", 1, 28, 4, 1, 32768, 128, true, 0},
  };
}

// Multiply-adds of QK^T and PV, counting only the visible half of a square causal mask.
double flops(const Shape& s) {
  const double per_pair = 4.0 * s.head_dim;  // 2 (QK) + 2 (PV) flops per element per pair
  double pairs;
  if (s.window > 0) {
    pairs = double(s.sq / s.window) * s.window * s.window;
  } else if (s.causal && s.sq > 1) {
    pairs = double(s.sq) * s.sk - double(s.sq) * (s.sq - 1) / 2;
  } else {
    pairs = double(s.sq) * s.sk;
  }
  return per_pair * pairs * s.batch * s.heads_q;
}

// Mean over `iters` runs after warm-up, timed with CUDA events on the current stream.
double time_ms(const std::function<void()>& fn, int iters) {
  for (int i = 0; i < 3; ++i) fn();
  at::cuda::CUDAEvent start, stop;
  start.record();
  for (int i = 0; i < iters; ++i) fn();
  stop.record();
  stop.synchronize();
  return start.elapsed_time(stop) / iters;
}

enum class SdpaBackend { kFlash, kCudnn };

// Forces one SDPA backend (global torch switches; fine in a tool, never in the library).
// Returns a negative time if the backend rejects the shape.
double time_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                 SdpaBackend backend, int iters) {
  auto& ctx = at::globalContext();
  ctx.setSDPUseMath(false);
  ctx.setSDPUseMemEfficient(false);
  ctx.setSDPUseFlash(backend == SdpaBackend::kFlash);
  ctx.setSDPUseCuDNN(backend == SdpaBackend::kCudnn);
  double ms = -1;
  try {
    ms = time_ms([&] { (void)at::scaled_dot_product_attention(q, k, v, {}, 0.0, causal,
                                                              std::nullopt, /*enable_gqa=*/true); },
                 iters);
  } catch (const std::exception&) {
    ms = -1;  // backend unavailable for this shape / dtype / GPU
  }
  ctx.setSDPUseMath(true);
  ctx.setSDPUseMemEfficient(true);
  ctx.setSDPUseFlash(true);
  ctx.setSDPUseCuDNN(true);
  return ms;
}

int run(at::ScalarType dtype, int iters) {
  const auto* props = at::cuda::getCurrentDeviceProperties();
  std::printf("device: %s (%d SMs), dtype %s, %d iterations per measurement\n", props->name,
              props->multiProcessorCount, c10::toString(dtype), iters);
  std::printf("%-22s %10s %10s %10s %10s %10s %10s %10s\n", "shape", "ours ms", "ours TF/s",
              "flash ms", "cudnn ms", "best TF/s", "ratio", "goal");
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  at::manual_seed(0);
  for (const Shape& s : shapes()) {
    const double f = flops(s);
    double ours_ms = 0, flash_ms = -1, cudnn_ms = -1;
    if (s.window > 0) {
      const std::int64_t n = s.sq, windows = s.sq / s.window;
      const at::Tensor q = at::randn({n, s.heads_q, s.head_dim}, opts);
      const at::Tensor k = at::randn({n, s.heads_kv, s.head_dim}, opts);
      const at::Tensor v = at::randn({n, s.heads_kv, s.head_dim}, opts);
      const at::Tensor cu = at::arange(windows + 1, at::kLong) * s.window;
      ours_ms = time_ms([&] { (void)duogen::ops::varlen_attention(q, k, v, cu, cu); }, iters);
      // SDPA sees the same windows as a batch: [windows, H, 64, D].
      const auto as_batch = [&](const at::Tensor& t) {
        return t.view({windows, s.window, t.size(1), s.head_dim}).transpose(1, 2);
      };
      flash_ms = time_sdpa(as_batch(q), as_batch(k), as_batch(v), false, SdpaBackend::kFlash, iters);
      cudnn_ms = time_sdpa(as_batch(q), as_batch(k), as_batch(v), false, SdpaBackend::kCudnn, iters);
    } else {
      const at::Tensor q = at::randn({s.batch, s.heads_q, s.sq, s.head_dim}, opts);
      const at::Tensor k = at::randn({s.batch, s.heads_kv, s.sk, s.head_dim}, opts);
      const at::Tensor v = at::randn({s.batch, s.heads_kv, s.sk, s.head_dim}, opts);
      const duogen::ops::AttentionOptions ao{.causal = s.causal, .scale = std::nullopt};
      ours_ms = time_ms([&] { (void)duogen::ops::attention(q, k, v, ao); }, iters);
      // SDPA's causal mask is top-left aligned: equal to ours only for square problems; one
      // decode query sees every key either way.
      const bool sdpa_causal = s.causal && s.sq == s.sk && s.sq > 1;
      flash_ms = time_sdpa(q, k, v, sdpa_causal, SdpaBackend::kFlash, iters);
      cudnn_ms = time_sdpa(q, k, v, sdpa_causal, SdpaBackend::kCudnn, iters);
    }
    double best_ms = -1;
    for (const double ms : {flash_ms, cudnn_ms}) {
      if (ms > 0 && (best_ms < 0 || ms < best_ms)) best_ms = ms;
    }
    const auto tflops = [&](double ms) { return ms > 0 ? f / (ms * 1e-3) / 1e12 : 0.0; };
    const double ratio = best_ms > 0 ? best_ms / ours_ms : 0.0;  // > 1: ours is faster
    std::printf("%-22s %10.3f %10.1f %10.3f %10.3f %10.1f %9.2fx %10s\n", s.name.c_str(), ours_ms,
                tflops(ours_ms), flash_ms, cudnn_ms, tflops(best_ms), ratio,
                ratio >= 1.0 ? "ok" : "below");
  }
  std::printf("ratio = best SDPA time / ours (>= 1.0 is the goal); -1 ms: backend unavailable\n");
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  at::ScalarType dtype = at::kBFloat16;
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
      const std::string d = argv[++i];
      if (d != "bf16" && d != "fp16") {
        std::fprintf(stderr, "bench_kernels: --dtype must be bf16 or fp16, got %s\n", d.c_str());
        return 2;
      }
      dtype = d == "bf16" ? at::kBFloat16 : at::kHalf;
    } else if (std::strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_kernels [--dtype bf16|fp16] [--iters N]\n");
      return 2;
    }
  }
#ifdef DUOGEN_WITH_CUDA
  if (!at::hasCUDA()) {
    std::fprintf(stderr, "bench_kernels: no CUDA GPU visible; nothing to measure\n");
    return 1;
  }
  return run(dtype, iters);
#else
  (void)dtype;
  (void)iters;
  std::fprintf(stderr,
               "bench_kernels: built without CUDA kernels (configure with -DDUOGEN_CUDA=ON); "
               "nothing to measure\n");
  return 1;
#endif
}
