// bench_e2e: end-to-end speed of duogen's components on one device (issue #10, part 5).
//
//   build/tools/bench/bench_e2e --models DIR [--device cuda] [--dtype bf16] [--repeats 5] ...
//
// DIR is made by tools/bench/bench_e2e.py: mllm/config.json (Qwen2.5-VL; the weights are random
// and built here, in memory, on the device: no 16 GB checkpoint on disk), dit/ and vae/
// (diffusers checkpoints with random weights, loaded through pipeline::DuoGenImageModel exactly
// as `duogen t2i` loads them). Measures, each after --warmup untimed runs, the median of
// --repeats timed runs with the device synchronised around every timed region:
//   prefill     tokens/s of one forward over --prompt-tokens random text ids
//   decode      ms/token of --decode-tokens greedy steps after that prefill
//   vit         ms of the vision tower on one --vit-size image (1920x1080: 1092x1932 after
//               Qwen's smart_resize, 10764 patches)
//   dit_step    ms of one DiT velocity call (one CFG branch) at --size with 0/1/3 prior frames
//   image       ms of one whole image (--steps sampler steps, CFG on: both branches per step,
//               connector, VAE decode; condition frames encoded once, as in a conversation)
//   vae_decode  ms of one VAE decode at --size
// and each one's peak memory: CUDA caching-allocator peak (reset before each measurement) on
// CUDA, VmHWM (reset through /proc/self/clear_refs) on CPU. One JSON line per measurement.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#ifdef DUOGEN_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "core/check.h"
#include "core/device.h"
#include "core/dtype.h"
#include "duogen/error.h"
#include "io/weight_loader.h"
#include "models/qwen2_5_vl/config.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "pipeline/duogen_image_model.h"
#include "runtime/attention_table.h"

namespace {

namespace fs = std::filesystem;
using duogen::DevicePlacement;
using nlohmann::json;

struct Args {
  std::string models;
  std::string device = "cpu";
  std::string dtype = "bf16";
  std::int64_t prompt_tokens = 512;
  std::int64_t decode_tokens = 64;
  std::string vit_size = "1920x1080";  // W x H
  std::string size = "768x768";        // W x H
  std::int64_t steps = 35;
  double guidance = 7.0;
  std::string conditions = "0,1,3";
  std::int64_t context_tokens = 256;  // MLLM tokens before <BOV> that the DiT attends to
  int repeats = 5;
  int warmup = 1;
  std::string only = "prefill,decode,vit,dit_step,image,vae_decode";
  std::string attention_table;  // bench_kernels --table-out; empty: the built-in order
};

std::pair<std::int64_t, std::int64_t> parse_size(const std::string& text) {
  const auto x = text.find('x');
  DUOGEN_CHECK(x != std::string::npos, duogen::UsageError, "size '{}': expected WxH", text);
  return {std::stoll(text.substr(0, x)), std::stoll(text.substr(x + 1))};
}

void synchronize(const c10::Device& device) {
#ifdef DUOGEN_WITH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

#ifdef DUOGEN_WITH_CUDA
// "cuda" without an index is the current device.
c10::DeviceIndex cuda_index(const c10::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}
#endif

// Peak memory of the next measurement only.
void reset_peak(const c10::Device& device) {
#ifdef DUOGEN_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(device));
    return;
  }
#endif
  (void)device;
  std::ofstream("/proc/self/clear_refs") << "5";  // Linux: resets VmHWM to the current RSS
}

double peak_mib(const c10::Device& device) {
#ifdef DUOGEN_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index(device));
    const auto aggregate = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    return static_cast<double>(stats.allocated_bytes[aggregate].peak) / (1024.0 * 1024.0);
  }
#endif
  (void)device;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

class Bench {
 public:
  Bench(const Args& args, const DevicePlacement& placement,
        std::shared_ptr<const duogen::ops::AttentionDispatch> attention)
      : args_(args), placement_(placement), attention_(std::move(attention)) {}
  // Shared by every model of the run; each line reports the backends its timed runs used.
  const std::shared_ptr<const duogen::ops::AttentionDispatch>& attention() const {
    return attention_;
  }

  // Runs `body` warmup + repeats times; body returns the seconds of its own timed region (it
  // synchronises inside). Prints one JSON line with the median converted by `to_value`.
  void measure(const std::string& name, const std::string& unit, json params,
               const std::function<double()>& body,
               const std::function<double(double)>& to_value, const json* stages = nullptr) {
    for (int i = 0; i < args_.warmup; ++i) body();
    reset_peak(placement_.device);
    attention_->reset_usage();
    std::vector<double> seconds;
    for (int i = 0; i < args_.repeats; ++i) seconds.push_back(body());
    json line = {{"impl", "duogen"},
                 {"name", name},
                 {"unit", unit},
                 {"value", to_value(median(seconds))},
                 {"seconds", seconds},
                 {"peak_mib", std::round(peak_mib(placement_.device))},
                 {"device", placement_.device.str()},
                 {"dtype", placement_.dtype == c10::kBFloat16 ? "bf16"
                           : placement_.dtype == c10::kHalf   ? "fp16"
                                                              : "fp32"},
                 {"threads", at::get_num_threads()}};
    json attention = json::object();
    for (const auto& [site, backends] : attention_->usage()) {
      for (const auto& [backend, calls] : backends) {
        attention[std::string(duogen::ops::site_name(site))]
                 [std::string(duogen::ops::backend_name(backend))] = calls;
      }
    }
    line["attention_calls"] = attention;  // of the timed repeats
    line.update(params);
    if (stages != nullptr) line["stages_seconds"] = *stages;  // of the last repeat
    std::cout << line.dump() << std::endl;
  }

  template <class F>
  double timed(F&& region) {
    synchronize(placement_.device);
    const auto start = std::chrono::steady_clock::now();
    region();
    synchronize(placement_.device);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  const Args& args() const { return args_; }
  const DevicePlacement& placement() const { return placement_; }

 private:
  Args args_;
  DevicePlacement placement_;
  std::shared_ptr<const duogen::ops::AttentionDispatch> attention_;
};

// Random weights made directly on the device in the compute dtype: scales near 1 for norms,
// small biases, matrices scaled by 1/sqrt(fan_in) so activations stay finite through the layers.
duogen::io::WeightStore random_store(const DevicePlacement& p) {
  const auto init = [p](const std::string& name, c10::IntArrayRef shape) {
    const at::TensorOptions options = at::TensorOptions().device(p.device).dtype(at::kFloat);
    at::Tensor noise = at::randn(shape, options);
    const bool vector_like = shape.empty() || noise.numel() == shape[0];
    const bool is_scale = name.find("norm") != std::string::npos || name.ends_with("gamma") ||
                          name.ends_with("ln_q.weight");
    if (vector_like) noise = is_scale ? 1.0 + 0.1 * noise : 0.02 * noise;
    else noise = noise / std::sqrt(static_cast<double>(noise.numel() / shape[0]));
    return noise.to(p.dtype);
  };
  duogen::io::WeightLoadOptions options;
  options.dtype = p.dtype;
  options.device = p.device;
  return duogen::io::WeightStore::materializing(init, options);
}

bool wanted(const Args& a, const std::string& name) {
  return ("," + a.only + ",").find("," + name + ",") != std::string::npos;
}

void bench_mllm(Bench& b, const fs::path& dir) {
  namespace q = duogen::qwen2_5_vl;
  const auto& a = b.args();
  const auto& p = b.placement();
  const q::Config config = q::Config::from_directory(dir);
  if (wanted(a, "prefill") || wanted(a, "decode")) {
    q::ModelOptions options;
    options.dtype = p.dtype;
    options.device = p.device;
    options.cache.initial_capacity = a.prompt_tokens + a.decode_tokens;  // no regrowth timed
    options.attention = b.attention();
    auto store = random_store(p);
    const q::Model model = q::Model::from_weights(config, options, store);
    store.finish("bench_e2e Qwen2.5-VL", /*report_unused=*/false);
    at::manual_seed(0);
    const std::int64_t text_vocab = std::min(config.text.vocab_size, config.vision_start_token_id);
    const at::Tensor ids = at::randint(text_vocab, {a.prompt_tokens}, at::kLong);
    const json params = {{"prompt_tokens", a.prompt_tokens}, {"decode_tokens", a.decode_tokens}};
    if (wanted(a, "prefill")) {
      b.measure("prefill", "tokens/s", params, [&] {
        auto session = model.new_session();
        return b.timed([&] { model.forward(session, q::ChunkInput{ids}); });
      }, [&](double s) { return a.prompt_tokens / s; });
    }
    if (wanted(a, "decode")) {
      b.measure("decode", "ms/token", params, [&] {
        auto session = model.new_session();
        at::Tensor logits = model.forward(session, q::ChunkInput{ids}).logits;
        return b.timed([&] {
          for (std::int64_t i = 0; i < a.decode_tokens; ++i) {
            logits = model.decode_step(session, logits.argmax(-1).item<std::int64_t>());
          }
        });
      }, [&](double s) { return 1000.0 * s / a.decode_tokens; });
    }
  }
  if (wanted(a, "vit")) {
    auto store = random_store(p);
    q::VisionTower vision(config.vision, store.root().sub("visual"));
    vision.set_attention(b.attention());
    store.finish("bench_e2e vision tower", /*report_unused=*/false);
    const auto [w, h] = parse_size(a.vit_size);
    // Qwen's smart_resize (architecture.md §3.2) for an image inside the pixel limits: each side
    // rounded to a multiple of patch x merge = 28.
    const std::int64_t factor = config.vision.patch_size * config.vision.spatial_merge_size;
    const auto round_to = [factor](std::int64_t v) {
      return std::max<std::int64_t>(factor, static_cast<std::int64_t>(std::llround(
                                                static_cast<double>(v) / factor)) * factor);
    };
    const std::int64_t gh = round_to(h) / config.vision.patch_size;
    const std::int64_t gw = round_to(w) / config.vision.patch_size;
    const std::int64_t patch = config.vision.in_channels * config.vision.temporal_patch_size *
                               config.vision.patch_size * config.vision.patch_size;
    at::manual_seed(0);
    const at::Tensor pixels =
        at::randn({gh * gw, patch}, at::TensorOptions().device(p.device)).to(p.dtype);
    const at::Tensor grid = at::tensor({std::int64_t{1}, gh, gw}, at::kLong).view({1, 3});
    b.measure("vit", "ms", {{"width", w}, {"height", h}, {"patches", gh * gw}}, [&] {
      return b.timed([&] { vision.forward(pixels, grid); });
    }, [](double s) { return 1000.0 * s; });
  }
}

void bench_image(Bench& b, const fs::path& models, const duogen::qwen2_5_vl::Config& mllm) {
  const auto& a = b.args();
  const auto& p = b.placement();
  duogen::pipeline::ModelManifest manifest;
  manifest.dit = models / "dit";
  manifest.vae = models / "vae";
  duogen::pipeline::DuoGenImageModel images(manifest,
                                            {p.dtype, p.device, nullptr, b.attention()});
  const auto dit_use = images.dit();  // resident while it lives
  const auto& dit = *dit_use;
  const auto [w, h] = parse_size(a.size);
  at::manual_seed(0);
  // The MLLM's all-layer hidden states [layers + 1, L, hidden] when its width fits the
  // connector (the real preset), else one entry of the connector's full width.
  const std::int64_t in = dit.connector().in_channels();
  const std::int64_t layers = mllm.text.num_hidden_layers, hidden = mllm.text.hidden_size;
  const at::Tensor context =
      layers * hidden == in
          ? at::randn({layers + 1, a.context_tokens, hidden}).to(p.dtype)
          : at::randn({1, a.context_tokens, in}).to(p.dtype);
  std::vector<std::int64_t> counts;
  for (std::size_t i = 0, j; i <= a.conditions.size(); i = j + 1) {
    j = a.conditions.find(',', i);
    if (j == std::string::npos) j = a.conditions.size();
    if (j > i) counts.push_back(std::stoll(a.conditions.substr(i, j - i)));
  }
  const std::int64_t f = images.vae()->config().scale_factor_spatial;
  const std::int64_t z = images.vae()->config().z_dim;
  for (const std::int64_t n : counts) {
    const json params = {{"width", w}, {"height", h}, {"conditions", n}};
    if (wanted(a, "dit_step")) {
      const auto ctx = dit.prepare_context_from_hidden_states(context.to(p.device));
      const at::TensorOptions o = at::TensorOptions().device(p.device);
      std::vector<duogen::cosmos_dit::PackedFrame> frames;
      for (std::int64_t i = 0; i <= n; ++i) {
        const bool cond = i < n;
        frames.push_back({at::randn({1, z, h / f, w / f}, o),
                          at::full({1}, cond ? 0.0 : 0.5, o), cond});
      }
      b.measure("dit_step", "ms", params, [&] {
        return b.timed([&] { dit.velocity_packed(frames, ctx); });
      }, [](double s) { return 1000.0 * s; });
    }
    if (wanted(a, "image")) {
      duogen::pipeline::ImageRequest request;
      request.context = context;
      request.negative_length = std::max<std::int64_t>(1, a.context_tokens / 2);
      request.width = w;
      request.height = h;
      request.steps = a.steps;
      request.guidance = a.guidance;
      for (std::int64_t i = 0; i < n; ++i) {
        request.condition_images.push_back(at::randint(256, {h, w, 3}, at::kByte));
      }
      json image_params = params;
      image_params["steps"] = a.steps;
      image_params["guidance"] = a.guidance;
      json stages;
      b.measure("image", "ms", image_params, [&] {
        std::vector<std::pair<std::string, double>> timings;
        const double seconds = b.timed([&] { images.generate(request, {}, timings); });
        stages = json::object();
        for (const auto& [stage, t] : timings) stages[stage] = t;
        return seconds;
      }, [](double s) { return 1000.0 * s; }, &stages);
    }
  }
  if (wanted(a, "vae_decode")) {
    const at::Tensor latent =
        at::randn({1, z, 1, h / f, w / f}, at::TensorOptions().device(p.device));
    b.measure("vae_decode", "ms", {{"width", w}, {"height", h}}, [&] {
      return b.timed([&] { images.vae()->decode(latent); });
    }, [](double s) { return 1000.0 * s; });
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"duogen end-to-end speed benchmark (random weights)"};
  Args a;
  app.add_option("--models", a.models, "directory from bench_e2e.py (mllm/, dit/, vae/)")
      ->required();
  app.add_option("--device", a.device, "cpu, cuda or cuda:N");
  app.add_option("--dtype", a.dtype, "bf16, fp16 or fp32");
  app.add_option("--prompt-tokens", a.prompt_tokens, "prefill length")->check(CLI::PositiveNumber);
  app.add_option("--decode-tokens", a.decode_tokens, "decoded tokens per run")
      ->check(CLI::PositiveNumber);
  app.add_option("--vit-size", a.vit_size, "WxH of the ViT image");
  app.add_option("--size", a.size, "WxH of the generated image");
  app.add_option("--steps", a.steps, "sampler steps per image")->check(CLI::PositiveNumber);
  app.add_option("--guidance", a.guidance, "CFG scale");
  app.add_option("--conditions", a.conditions, "prior condition frames, comma-separated");
  app.add_option("--context-tokens", a.context_tokens, "MLLM tokens the DiT attends to")
      ->check(CLI::PositiveNumber);
  app.add_option("--repeats", a.repeats, "timed runs (the median is reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", a.warmup, "untimed runs first")->check(CLI::NonNegativeNumber);
  app.add_option("--only", a.only, "measurements, comma-separated");
  app.add_option("--attention-table", a.attention_table,
                 "measured attention table (bench_kernels --table-out)")
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);
  try {
    DevicePlacement p;
    p.device = duogen::parse_device(a.device);
    duogen::check_device_available(p.device);
    p.dtype = duogen::parse_float_dtype(a.dtype);
#ifdef DUOGEN_WITH_CUDA
    // Synchronisation and the allocator's statistics then refer to the requested device.
    if (p.device.is_cuda() && p.device.has_index()) c10::cuda::set_device(p.device.index());
#endif
    c10::InferenceMode guard;
    std::shared_ptr<const duogen::ops::AttentionDispatch> attention =
        std::make_shared<duogen::ops::AttentionDispatch>(
            a.attention_table.empty()
                ? std::vector<duogen::ops::AttentionMeasurement>{}
                : duogen::runtime::read_attention_table(a.attention_table).measurements);
    Bench bench(a, p, attention);
    const fs::path models = a.models;
    bench_mllm(bench, models / "mllm");
    if (wanted(a, "dit_step") || wanted(a, "image") || wanted(a, "vae_decode")) {
      bench_image(bench, models, duogen::qwen2_5_vl::Config::from_directory(models / "mllm"));
    }
    return 0;
  } catch (const duogen::UsageError& e) {
    std::cerr << "bench_e2e: " << e.what() << "\n";
    return 2;
  } catch (const duogen::Error& e) {
    std::cerr << "bench_e2e: " << e.what() << "\n";
    return 1;
  }
}
