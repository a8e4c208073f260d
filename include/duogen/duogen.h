// duogen: the library API. This is the one header a program needs (the CLI, the server and
// examples/ use nothing else):
//
//   duogen::EngineOptions options;
//   options.model = "models/duogen";           // duogen.json directory or a Cosmos snapshot
//   auto engine = duogen::Engine::load(options);
//   duogen::Job job;
//   job.id = "pancakes";
//   job.messages = {{"user", {duogen::text_part("How do I make pancakes? Show each step.")}}};
//   duogen::GenerationCallbacks on;
//   on.on_text = [](std::string_view piece) { std::cout << piece << std::flush; };
//   duogen::GenerationResult result = engine->generate(job, on);
//   for (const auto& part : result.parts)
//     if (part.kind == duogen::OutputPart::Kind::kImage) duogen::save_png("step.png", part.image);
//
// Thread safety: an Engine runs one generation at a time; generate(), generate_image() and
// run_batch() called from several threads queue on an internal mutex in no particular order
// (a server orders its own queue). A std::stop_token passed to them may be signalled from any
// thread: the generation stops at its next token or sampling step with duogen::Cancelled.
// info() and check() are safe from any thread at any time (they read what load() fixed).
// Callbacks run on the generating thread; an exception thrown from one ends the generation.
// Errors are exceptions derived from duogen::Error (duogen/error.h); nothing exits the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "duogen/error.h"
#include "duogen/job.h"
#include "duogen/version.h"

namespace duogen {

// An 8-bit RGB picture, row-major, width * height * 3 bytes.
struct Image {
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::vector<std::uint8_t> rgb;
  // Generation parameters (job, image, seed, steps, guidance, ...), written as PNG tEXt chunks.
  std::vector<std::pair<std::string, std::string>> params;
};

// The PNG file bytes of an image with its params as tEXt chunks: the same bytes `duogen
// generate` writes as image-N.png for the same job.
std::string encode_png(const Image& image);
// encode_png, written atomically (a temporary file renamed into place). Throws IoError.
void save_png(const std::filesystem::path& path, const Image& image);
// Decodes PNG/JPEG/BMP/... bytes (alpha dropped); FormatError naming `name` for bad data.
Image decode_image(std::string_view bytes, const std::string& name = "image");
Image read_image(const std::filesystem::path& path);

// Standard base64 (RFC 4648, with padding), for data URLs.
std::string base64_encode(std::string_view bytes);

// "22GiB", "512MB", "1000000" -> bytes; InvalidArgument quoting the text otherwise.
std::uint64_t parse_byte_size(std::string_view text);

ContentPart text_part(std::string text);
ContentPart image_part(std::filesystem::path path);
ContentPart image_bytes_part(std::string encoded_bytes);

enum class ModelKind {
  kDuoGen,          // duogen.json: interleaved text and images, t2i and editing
  kCosmosSnapshot,  // a Cosmos-Predict2.5 diffusers snapshot: text-to-image only
};

// What `path` holds, without loading it; InvalidArgument if it is neither.
ModelKind detect_model(const std::filesystem::path& path);

struct EngineOptions {
  std::filesystem::path model;  // duogen.json directory (or file), or a Cosmos snapshot
  // DuoGen components given separately, over (or instead of) the manifest's.
  std::filesystem::path mllm, dit, vae, tokenizer;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string dtype;           // bf16 | fp16 | fp32; empty: fp32 on CPU, bf16 on CUDA
  // Offload mode: the device budget ("22GiB") for the model weights; the components not in use
  // are dropped and loaded again when needed. Empty: everything stays resident.
  std::string offload;
  // A measured attention table (`bench_kernels --table-out`): the fastest attention backend per
  // call site and shape on this GPU. Empty: the built-in order (kernels/ops/attention_dispatch.h).
  std::filesystem::path attention_table;
  // Job options over the model's defaults and under each job's own fields.
  JobOptions defaults;
};

struct ModelInfo {
  std::string id;  // the model directory's name
  std::filesystem::path path;
  ModelKind kind = ModelKind::kDuoGen;
  std::string device;  // "cpu", "cuda:0"
  std::string dtype;   // "float", "bfloat16", ...
  // The options a job gets for fields it leaves unset (built-in < duogen.json < EngineOptions).
  JobOptions defaults;
};

struct OutputPart {
  enum class Kind { kText, kImage };
  Kind kind = Kind::kText;
  std::string text;  // kText
  Image image;       // kImage
};

struct GenerationResult {
  std::string job_id;
  std::vector<OutputPart> parts;  // in the order they were generated
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::size_t images = 0;
  std::uint64_t seed = 0;   // image n used seed + n - 1
  std::string stop_reason;  // stop_token | max_new_tokens | image_only
  std::vector<std::pair<std::string, double>> timings_s;  // stage -> seconds, in order
};

struct GenerationCallbacks {
  std::function<void(std::string_view piece)> on_text;  // decoded text, as it is generated
  // Image `image` (1-based) finished sampling step `step` of `steps`.
  std::function<void(std::size_t image, std::int64_t step, std::int64_t steps)>
      on_image_progress;
  std::function<void(std::size_t image, const Image&)> on_image;  // each finished image
};

struct BatchOptions {
  std::filesystem::path out_dir;  // one directory per job: result.json/.md, index.html, PNGs
  bool keep_going = true;         // a failing job is recorded and the next one runs
  bool image_only = false;        // t2i / edit: every job is one image
};

struct BatchCallbacks {
  GenerationCallbacks generation;
  std::function<void(const Job&, std::size_t index, std::size_t total)> on_job_start;
  std::function<void(const Job&, const std::filesystem::path& dir)> on_job_done;
};

struct BatchSummary {
  std::int64_t finished = 0;
  std::int64_t skipped = 0;  // finished in an earlier run (resume)
  std::vector<std::pair<std::string, std::string>> failures;  // job id -> message
};

struct EngineStats {
  int mllm_loads = 0, dit_loads = 0, vae_loads = 0;  // > 1 after offload evictions
  std::uint64_t offload_budget_bytes = 0;           // 0: no offload
  std::uint64_t offload_peak_bytes = 0;             // weights on the device at most
  // Attention calls since load: call site ("dit_self", "llm_decode", ...) -> backend
  // ("sdpa_cudnn", "flash_kernel", "reference", ...) -> count. On the CPU every call is
  // "reference".
  std::map<std::string, std::map<std::string, std::int64_t>> attention_calls;
  // Bytes the engine keeps between jobs (KV cache, kept hidden states, next logits, user images,
  // the condition-latent cache): flat over a long run once the largest job has been seen.
  std::int64_t retained_bytes = 0;
  // Context tokens the KV cache and the kept hidden states hold (the last job's).
  std::int64_t retained_tokens = 0;
};

class Engine {
 public:
  // Loads every component (FormatError/WeightError name the component and file). The device
  // must exist (InvalidArgument otherwise).
  static std::unique_ptr<Engine> load(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const ModelInfo& info() const;

  // Checks a job against this model without running it: option ranges, logit-bias tokens the
  // vocabulary lacks, options a Cosmos snapshot cannot honour. Throws FieldError naming the field.
  void check(const Job& job) const;

  // Interleaved generation: the answer to the job's conversation, text with an image wherever
  // the model opens one (up to max_images). InvalidArgument for a Cosmos snapshot.
  GenerationResult generate(const Job& job, const GenerationCallbacks& callbacks = {},
                            std::stop_token stop = {});
  // Text-to-image (no images in the conversation) or editing (the conversation's images are the
  // references): exactly one image. Works on a Cosmos snapshot too (text-to-image).
  GenerationResult generate_image(const Job& job, const GenerationCallbacks& callbacks = {},
                                  std::stop_token stop = {});
  // Runs jobs into out_dir with resume (finished job directories are skipped) and atomic job
  // directories, like `duogen generate`.
  BatchSummary run_batch(const std::vector<Job>& jobs, const BatchOptions& options,
                         const BatchCallbacks& callbacks = {}, std::stop_token stop = {});

  // Waits for a running generation to finish (it reads the models' bookkeeping).
  EngineStats stats() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `duogen init-tiny`: a DuoGen model directory with tiny random weights and the real tokenizer
// found in `tokenizer_dir` (tokenizer.json), written atomically.
struct TinyModelOptions {
  std::filesystem::path tokenizer_dir;
  std::uint64_t seed = 0;
  bool overwrite = false;
};
void write_tiny_model(const std::filesystem::path& out, const TinyModelOptions& options);

}  // namespace duogen
