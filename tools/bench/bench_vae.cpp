// bench_vae: time and peak memory of one Wan2.1 VAE encode or decode on CPU.
//
//   build/tools/bench/bench_vae MODEL_DIR encode|decode HEIGHT WIDTH [--tiling] [--dtype bf16]
//                               [--frames N]
//
// --frames N (1 + 4k) runs a video: N pixel frames (encode) or (N - 1) / 4 + 1 latent frames
// (decode), chunked with the causal cache as the pipelines run them.
// Prints one JSON line: wall and CPU seconds for the call (after one load; no warm-up, as a CLI
// user sees it), VmHWM (peak resident set, whole process, weights included) and VmRSS after
// loading, in MiB. Inputs are random (uniform pixels in [-1, 1] / standard normal latents).
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
#include "models/wan_vae/vae.h"

namespace {

// A field of /proc/self/status ("VmHWM", "VmRSS") in MiB.
double proc_status_mib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return -1;
}

// User + system CPU seconds of this process so far (all threads): less sensitive than wall time
// to other jobs sharing the machine.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: bench_vae MODEL_DIR encode|decode HEIGHT WIDTH [--tiling] [--dtype X]\n";
    return 2;
  }
  try {
    const std::string mode = argv[2];
    const std::int64_t height = std::stoll(argv[3]), width = std::stoll(argv[4]);
    duogen::wan_vae::VAEOptions options;
    std::int64_t frames = 1;
    for (int i = 5; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--tiling") options.tiling.enabled = true;
      if (arg == "--dtype" && i + 1 < argc) options.dtype = duogen::parse_float_dtype(argv[++i]);
      if (arg == "--frames" && i + 1 < argc) frames = std::stoll(argv[++i]);
    }
    c10::InferenceMode guard;
    const auto vae = duogen::wan_vae::WanVAE::load(argv[1], options);
    const double rss_loaded = proc_status_mib("VmRSS");
    at::manual_seed(0);
    // The same inputs bench_vae.py gives diffusers (same seed and generator): encode reports the
    // raw posterior mean, decode gets latents whose denormalised values are the N(0, 1) draw, so
    // out_mean_abs is comparable across the two implementations.
    const at::Tensor input =
        mode == "encode" ? at::rand({1, 3, frames, height, width}) * 2 - 1
                         : vae.normalize(at::randn({1, vae.config().z_dim, (frames - 1) / 4 + 1,
                                                    height / 8, width / 8}));
    const double cpu_start = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor out = mode == "encode" ? vae.encode_mean(input) : vae.decode(input);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = cpu_seconds() - cpu_start;
    std::printf(
        "{\"impl\": \"duogen\", \"mode\": \"%s\", \"height\": %lld, \"width\": %lld, "
        "\"frames\": %lld, "
        "\"tiling\": %s, \"threads\": %d, \"seconds\": %.3f, \"cpu_seconds\": %.3f, "
        "\"rss_after_load_mib\": %.0f, "
        "\"peak_rss_mib\": %.0f, \"out_mean_abs\": %.6f}\n",
        mode.c_str(), static_cast<long long>(height), static_cast<long long>(width),
        static_cast<long long>(frames), options.tiling.enabled ? "true" : "false",
        at::get_num_threads(), seconds, cpu, rss_loaded, proc_status_mib("VmHWM"),
        out.abs().mean().item<double>());
    return 0;
  } catch (const duogen::Error& e) {
    std::cerr << "bench_vae: " << e.what() << "\n";
    return 1;
  }
}
