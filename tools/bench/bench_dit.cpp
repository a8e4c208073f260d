// bench_dit: time and peak memory of one Cosmos DiT step (one velocity call) on CPU, through the
// packed-frame path: N condition frames plus the target, all HEIGHT x WIDTH pixels (latent / 8).
//
//   build/tools/bench/bench_dit MODEL_DIR HEIGHT WIDTH CONDITIONS [--context L] [--dtype bf16]
//
// Prints one JSON line: wall and CPU seconds of the step (after loading and preparing the
// context once, as a sampler reuses it; no warm-up), context preparation seconds, VmHWM and
// VmRSS after loading in MiB, and the velocity's mean |v| (bench_dit.py feeds diffusers the same
// seeded inputs, so it is comparable).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "core/dtype.h"
#include "duogen/error.h"
#include "models/cosmos_dit/dit.h"

namespace {

double proc_status_mib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return -1;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: bench_dit MODEL_DIR HEIGHT WIDTH CONDITIONS [--context L] [--dtype X]\n";
    return 2;
  }
  try {
    const std::int64_t height = std::stoll(argv[2]), width = std::stoll(argv[3]);
    const std::int64_t conditions = std::stoll(argv[4]);
    std::int64_t context_len = 64;
    duogen::cosmos_dit::DitOptions options;
    for (int i = 5; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--context" && i + 1 < argc) context_len = std::stoll(argv[++i]);
      if (arg == "--dtype" && i + 1 < argc) options.dtype = duogen::parse_float_dtype(argv[++i]);
    }
    c10::InferenceMode guard;
    const auto dit = duogen::cosmos_dit::CosmosDiT::load(argv[1], options);
    const double rss_loaded = proc_status_mib("VmRSS");
    const auto& config = dit.config();
    // Same draws, in the same order, as bench_dit.py: latents [1, C, N + 1, h, w], then context.
    at::manual_seed(0);
    const at::Tensor x = at::randn({1, config.latent_channels(), conditions + 1, height / 8, width / 8});
    const at::Tensor context = at::randn({1, context_len, dit.connector().in_channels()});
    auto start = std::chrono::steady_clock::now();
    const auto ctx = dit.prepare_context(context);
    const double context_seconds = since(start);
    std::vector<duogen::cosmos_dit::PackedFrame> frames;
    for (std::int64_t f = 0; f <= conditions; ++f) {
      const bool cond = f < conditions;
      frames.push_back({x.select(2, f), at::tensor({cond ? 1e-4 : 0.5}), cond});
    }
    const double cpu_start = cpu_seconds();
    start = std::chrono::steady_clock::now();
    const at::Tensor v = dit.velocity_packed(frames, ctx);
    const double seconds = since(start);
    const double cpu = cpu_seconds() - cpu_start;
    std::printf(
        "{\"impl\": \"duogen\", \"height\": %lld, \"width\": %lld, \"conditions\": %lld, "
        "\"tokens\": %lld, \"dtype\": \"%s\", \"threads\": %d, \"seconds\": %.3f, "
        "\"cpu_seconds\": %.3f, \"context_seconds\": %.3f, \"rss_after_load_mib\": %.0f, "
        "\"peak_rss_mib\": %.0f, \"out_mean_abs\": %.6f}\n",
        static_cast<long long>(height), static_cast<long long>(width),
        static_cast<long long>(conditions),
        static_cast<long long>((conditions + 1) * (height / 16) * (width / 16)),
        c10::toString(options.dtype), at::get_num_threads(), seconds, cpu, context_seconds,
        rss_loaded, proc_status_mib("VmHWM"), v.abs().mean().item<double>());
    return 0;
  } catch (const duogen::Error& e) {
    std::cerr << "bench_dit: " << e.what() << "\n";
    return 1;
  }
}
