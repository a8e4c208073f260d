// bench_kernels: every attention backend the dispatch may route a call site to, timed on that
// site's real-model shapes on this GPU, against torch's SDPA called directly (flash, cuDNN and
// mem-efficient backends forced in turn), in one run on the same inputs. Writes the measured
// table (`--table-out FILE`, read by `--attention-table` / EngineOptions::attention_table) and
// prints, per shape, TFLOP/s of each backend, the backend the table then picks, the time of a call
// dispatched through that table, and its ratio to the best direct SDPA call (>= 1.0: the goal).
// Needs a GPU and a build with -DDUOGEN_CUDA=ON; otherwise it says so and exits with status 1.
//
//   bench_kernels [--dtype bf16|fp16] [--iters N] [--table-out FILE]
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops/attention.h"
#include "kernels/ops/attention_dispatch.h"
#include "runtime/attention_table.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#endif

namespace {

using duogen::ops::AttentionBackend;
using duogen::ops::AttentionSite;

#ifdef DUOGEN_WITH_CUDA
// One benchmark shape of a call site. Dense: batch x (heads_q / heads_kv) x sq x sk. Varlen:
// segments of q_lens / k_lens tokens.
struct Shape {
  std::string name;
  AttentionSite site;
  std::int64_t batch, heads_q, heads_kv, sq, sk, head_dim;
  bool causal;
  std::vector<std::int64_t> q_lens, k_lens;  // non-empty: varlen
  bool shared_kv = false;                    // dense K/V of batch 1 expanded (stride 0)
};

// The real models' attention (architecture.md): Qwen2.5-VL-7B's ViT (16 heads, d 80; a 1080p
// image is 138 x 78 = 10764 patches, windows of 8 x 8 patches), its language model (28 query / 4
// key heads, d 128), Cosmos-Predict2.5-2B's DiT (16 heads, d 128; a 768^2 image is 48 x 48 = 2304
// tokens per frame) and Wan2.1's VAE mid-block (one head of 384 channels over 96 x 96 latents).
std::vector<Shape> shapes() {
  const std::vector<std::int64_t> windows(168, 64);
  return {
      {"vit windows 1080p", AttentionSite::kVitWindow, 0, 16, 16, 0, 0, 80, false, windows,
       windows},
      {"vit full 1080p", AttentionSite::kVitFull, 0, 16, 16, 0, 0, 80, false, {10764}, {10764}},
      {"llm prefill 2k", AttentionSite::kLlmPrefill, 1, 28, 4, 2048, 2048, 128, true, {}, {}},
      {"llm +256 after 3840", AttentionSite::kLlmPrefillCached, 1, 28, 4, 256, 4096, 128, true,
       {}, {}},
      {"llm decode 1k", AttentionSite::kLlmDecode, 1, 28, 4, 1, 1024, 128, true, {}, {}},
      {"llm decode 8k", AttentionSite::kLlmDecode, 1, 28, 4, 1, 8192, 128, true, {}, {}},
      {"llm decode 32k", AttentionSite::kLlmDecode, 1, 28, 4, 1, 32768, 128, true, {}, {}},
      {"dit self 1 frame", AttentionSite::kDitSelf, 1, 16, 16, 2304, 2304, 128, false, {}, {}},
      {"dit self cfg 2x1", AttentionSite::kDitSelf, 2, 16, 16, 2304, 2304, 128, false, {}, {}},
      {"dit self 4 frames", AttentionSite::kDitSelf, 1, 16, 16, 9216, 9216, 128, false, {}, {}},
      {"dit self 2x4 frames", AttentionSite::kDitSelf, 2, 16, 16, 9216, 9216, 128, false, {}, {}},
      {"dit cross shared", AttentionSite::kDitCross, 2, 16, 16, 2304, 1024, 128, false, {}, {},
       true},
      {"dit cross cfg varlen", AttentionSite::kDitCrossVarlen, 0, 16, 16, 0, 0, 128, false,
       {2304, 2304}, {1024, 300}},
      {"vae mid 768", AttentionSite::kVaeMid, 1, 1, 1, 9216, 9216, 384, false, {}, {}},
  };
}

bool is_varlen(const Shape& s) { return !s.q_lens.empty(); }

// Multiply-adds of QK^T and PV, counting only the visible part of a causal mask.
double flops(const Shape& s) {
  const auto pairs = [&](std::int64_t sq, std::int64_t sk) {
    if (s.causal && sq > 1) return double(sq) * sk - double(sq) * (sq - 1) / 2;
    return double(sq) * sk;
  };
  double total = 0;
  if (is_varlen(s)) {
    for (std::size_t i = 0; i < s.q_lens.size(); ++i) total += pairs(s.q_lens[i], s.k_lens[i]);
  } else {
    total = pairs(s.sq, s.sk) * s.batch;
  }
  return 4.0 * s.head_dim * total * s.heads_q;
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

enum class Sdpa { kFlash, kCudnn, kEfficient };
constexpr const char* kSdpaNames[] = {"flash", "cudnn", "efficient"};

// torch's SDPA as a user calls it, one backend forced (global torch switches: fine in a tool,
// never in the library). -1: the backend rejects the shape. Square causal only (SDPA's causal
// mask is top-left); a cached-prefix problem gets the explicit bottom-right mask, which only the
// mem-efficient backend takes.
double time_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                 Sdpa backend, int iters) {
  auto& ctx = at::globalContext();
  ctx.setSDPUseMath(false);
  ctx.setSDPUseMemEfficient(backend == Sdpa::kEfficient);
  ctx.setSDPUseFlash(backend == Sdpa::kFlash);
  ctx.setSDPUseCuDNN(backend == Sdpa::kCudnn);
  const std::int64_t sq = q.size(2), sk = k.size(2);
  std::optional<at::Tensor> mask;
  bool is_causal = causal && sq > 1;
  if (is_causal && sq != sk) {
    const auto o = q.options().dtype(at::kLong);
    mask = at::arange(sk, o).unsqueeze(0) <= at::arange(sq, o).unsqueeze(1) + (sk - sq);
    is_causal = false;
  }
  double ms = -1;
  try {
    ms = time_ms([&] { (void)at::scaled_dot_product_attention(q, k, v, mask, 0.0, is_causal,
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

struct Inputs {
  at::Tensor q, k, v;                  // dense [B, H, S, D] or packed [N, H, D]
  duogen::ops::VarlenLayout layout;    // varlen only
  duogen::ops::AttentionProblem problem;
};

Inputs make_inputs(const Shape& s, const at::TensorOptions& opts) {
  Inputs in;
  auto& p = in.problem;
  p.site = s.site;
  p.dtype = opts.dtype().toScalarType();
  p.heads_q = s.heads_q;
  p.heads_kv = s.heads_kv;
  p.head_dim = s.head_dim;
  p.causal = s.causal;
  if (is_varlen(s)) {
    std::vector<std::int64_t> cu_q{0}, cu_k{0};
    for (std::size_t i = 0; i < s.q_lens.size(); ++i) {
      cu_q.push_back(cu_q.back() + s.q_lens[i]);
      cu_k.push_back(cu_k.back() + s.k_lens[i]);
    }
    in.q = at::randn({cu_q.back(), s.heads_q, s.head_dim}, opts);
    in.k = at::randn({cu_k.back(), s.heads_kv, s.head_dim}, opts);
    in.v = at::randn({cu_k.back(), s.heads_kv, s.head_dim}, opts);
    in.layout = duogen::ops::VarlenLayout::make(at::tensor(cu_q), at::tensor(cu_k), in.q.device());
    p.varlen = true;
    p.batch = in.layout.segments();
    p.seqlen_q = in.layout.max_q;
    p.seqlen_k = in.layout.max_k;
  } else {
    const std::int64_t kv_batch = s.shared_kv ? 1 : s.batch;
    in.q = at::randn({s.batch, s.heads_q, s.sq, s.head_dim}, opts);
    in.k = at::randn({kv_batch, s.heads_kv, s.sk, s.head_dim}, opts).expand({s.batch, -1, -1, -1});
    in.v = at::randn({kv_batch, s.heads_kv, s.sk, s.head_dim}, opts).expand({s.batch, -1, -1, -1});
    p.batch = s.batch;
    p.seqlen_q = s.sq;
    p.seqlen_k = s.sk;
  }
  return in;
}

// One call of the engine's entry point for the shape under `dispatch`.
void call(const Shape& s, const Inputs& in, const duogen::ops::AttentionDispatch& dispatch) {
  const duogen::ops::AttentionOptions o{.causal = s.causal, .scale = std::nullopt,
                                        .site = s.site, .dispatch = &dispatch};
  if (is_varlen(s)) {
    (void)duogen::ops::varlen_attention(in.q, in.k, in.v, in.layout, o);
  } else {
    (void)duogen::ops::attention(in.q, in.k, in.v, o);
  }
}

// Direct SDPA on the same work: dense as is; varlen segment by segment (what a caller without
// packed attention does), the times summed.
double time_sdpa_shape(const Shape& s, const Inputs& in, Sdpa backend, int iters) {
  if (!is_varlen(s)) return time_sdpa(in.q, in.k, in.v, s.causal, backend, iters);
  // Uniform segments run as one batch ([segments, H, len, D]); ragged ones one call each.
  const bool uniform = std::all_of(s.q_lens.begin(), s.q_lens.end(),
                                   [&](std::int64_t l) { return l == s.q_lens.front(); }) &&
                       s.q_lens == s.k_lens;
  const auto as_batch = [](const at::Tensor& t, std::int64_t n, std::int64_t len) {
    return t.view({n, len, t.size(1), t.size(2)}).transpose(1, 2);
  };
  if (uniform) {
    const auto n = static_cast<std::int64_t>(s.q_lens.size());
    const std::int64_t len = s.q_lens.front();
    return time_sdpa(as_batch(in.q, n, len), as_batch(in.k, n, len), as_batch(in.v, n, len),
                     s.causal, backend, iters);
  }
  double total = 0;
  std::int64_t q0 = 0, k0 = 0;
  for (std::size_t i = 0; i < s.q_lens.size(); ++i) {
    const auto seg = [](const at::Tensor& t, std::int64_t start, std::int64_t len) {
      return t.slice(0, start, start + len).transpose(0, 1).unsqueeze(0);
    };
    const double ms = time_sdpa(seg(in.q, q0, s.q_lens[i]), seg(in.k, k0, s.k_lens[i]),
                                seg(in.v, k0, s.k_lens[i]), s.causal, backend, iters);
    if (ms < 0) return -1;
    total += ms;
    q0 += s.q_lens[i];
    k0 += s.k_lens[i];
  }
  return total;
}

std::string dtype_label(at::ScalarType t) { return t == at::kBFloat16 ? "bf16" : "fp16"; }

int run(at::ScalarType dtype, int iters, const std::string& table_out) {
  const auto* props = at::cuda::getCurrentDeviceProperties();
  const duogen::ops::DeviceCaps caps{.cuda = true, .cc_major = props->major,
                                     .cc_minor = props->minor, .kernels_built = true};
  std::printf("device: %s (sm %d.%d, %d SMs), dtype %s, %d iterations per measurement\n",
              props->name, props->major, props->minor, props->multiProcessorCount,
              dtype_label(dtype).c_str(), iters);
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
  at::manual_seed(0);

  duogen::runtime::AttentionTable table;
  table.device = props->name;
  table.compute_capability = std::to_string(props->major) + "." + std::to_string(props->minor);
  std::vector<std::string> lines;
  for (const Shape& s : shapes()) {
    const Inputs in = make_inputs(s, opts);
    const double f = flops(s);
    const auto tflops = [&](double ms) { return ms > 0 ? f / (ms * 1e-3) / 1e12 : 0.0; };
    duogen::ops::AttentionMeasurement m{.site = s.site, .dtype = dtype, .head_dim = s.head_dim,
                                        .causal = s.causal, .varlen = is_varlen(s),
                                        .seqlen_q = in.problem.seqlen_q,
                                        .seqlen_k = in.problem.seqlen_k,
                                        .ms = {}};
    std::string per_backend;
    for (std::size_t i = 0; i < duogen::ops::kAttentionBackendCount; ++i) {
      const auto b = static_cast<AttentionBackend>(i);
      const std::string name(duogen::ops::backend_name(b));
      if (!duogen::ops::eligible(b, in.problem, caps)) continue;
      const auto only = duogen::ops::AttentionDispatch::only(b);
      double ms = -1;
      try {
        ms = time_ms([&] { call(s, in, only); }, iters);
      } catch (const std::exception& e) {
        std::printf("  %s on %s failed: %s\n", s.name.c_str(), name.c_str(), e.what());
      }
      // A backend that fell back to the reference did not run: no time for it.
      const auto usage = only.usage();
      const bool ran = usage.count(s.site) && usage.at(s.site).count(b) &&
                       usage.at(s.site).size() == 1;
      if (ms > 0 && ran) {
        m.ms[b] = ms;
        char buf[96];
        std::snprintf(buf, sizeof buf, " %s %.3f ms %.0f TF/s;", name.c_str(), ms, tflops(ms));
        per_backend += buf;
      }
    }
    double best_sdpa = -1;
    std::string sdpa_times;
    for (const Sdpa b : {Sdpa::kFlash, Sdpa::kCudnn, Sdpa::kEfficient}) {
      const double ms = time_sdpa_shape(s, in, b, iters);
      char buf[64];
      std::snprintf(buf, sizeof buf, " %s %.3f", kSdpaNames[static_cast<int>(b)], ms);
      sdpa_times += buf;
      if (ms > 0 && (best_sdpa < 0 || ms < best_sdpa)) best_sdpa = ms;
    }
    table.measurements.push_back(m);
    // The call as the engine makes it: dispatched through a table holding this measurement.
    const duogen::ops::AttentionDispatch dispatch(std::vector<duogen::ops::AttentionMeasurement>{m});
    const AttentionBackend chosen = dispatch.order(in.problem, caps).front();
    const double ms = time_ms([&] { call(s, in, dispatch); }, iters);
    const double ratio = best_sdpa > 0 ? best_sdpa / ms : 0.0;  // > 1: ours is faster
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %-17s %-15s %9.3f %9.1f %9.3f %9.2fx %s",
                  s.name.c_str(), std::string(duogen::ops::site_name(s.site)).c_str(),
                  std::string(duogen::ops::backend_name(chosen)).c_str(), ms, tflops(ms),
                  best_sdpa, ratio, ratio >= 1.0 ? "ok" : "below");
    lines.push_back(line);
    std::printf("%s\n  backends:%s\n  sdpa ms:%s\n", line, per_backend.c_str(), sdpa_times.c_str());
    std::fflush(stdout);
  }
  std::printf("\nshape                  site              backend         disp. ms  disp TF/s"
              "  sdpa ms     ratio\n");
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  std::printf("ratio = best direct SDPA time / the dispatched call (>= 1.0 is the goal); "
              "sdpa -1 ms: backend unavailable\n");
  if (!table_out.empty()) {
    duogen::runtime::write_attention_table(table_out, table);
    std::printf("wrote %s (%zu measurements)\n", table_out.c_str(), table.measurements.size());
  }
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  at::ScalarType dtype = at::kBFloat16;
  int iters = 20;
  std::string table_out;
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
    } else if (std::strcmp(argv[i], "--table-out") == 0 && i + 1 < argc) {
      table_out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_kernels [--dtype bf16|fp16] [--iters N] "
                           "[--table-out FILE]\n");
      return 2;
    }
  }
#ifdef DUOGEN_WITH_CUDA
  if (!at::hasCUDA()) {
    std::fprintf(stderr, "bench_kernels: no CUDA GPU visible; nothing to measure\n");
    return 1;
  }
  try {
    return run(dtype, iters, table_out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 1;
  }
#else
  (void)dtype;
  (void)iters;
  std::fprintf(stderr,
               "bench_kernels: built without CUDA kernels (configure with -DDUOGEN_CUDA=ON); "
               "nothing to measure\n");
  return 1;
#endif
}
