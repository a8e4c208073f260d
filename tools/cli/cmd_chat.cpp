// duogen chat --model DIR (--prompt TEXT | --prompt-file F) [--system S] [--image F]...
//              [--max-new-tokens N] [--temperature T --top-k K --top-p P --min-p M]
//              [--repetition-penalty R] [--seed N] [--device cpu|cuda[:N]] [--dtype bf16|fp16|fp32]
//              [--tokenizer DIR]
// One user turn through the Qwen2.5-VL chat template, then the assistant's reply streamed to
// stdout as it is generated. Greedy unless --temperature > 0.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "core/check.h"
#include "core/device.h"
#include "device_options.h"
#include "io/json_config.h"
#include "models/qwen2_5_vl/generate.h"
#include "models/qwen2_5_vl/generation_config.h"
#include "models/qwen2_5_vl/image_processor.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/load_tokenizer.h"

namespace duogen::cli {
namespace {

struct ChatArgs {
  std::string model;
  std::string tokenizer;
  std::vector<std::string> images;
  std::int64_t max_side = 0;  // DuoGen's 480 px cap is the pipeline's; chat is plain Qwen
  std::string prompt;
  std::string prompt_file;
  std::optional<std::string> system;
  std::int64_t max_new_tokens = 512;
  double temperature = 0.0;
  std::int64_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  std::optional<std::uint64_t> seed;
  DeviceDtypeArgs placement;
};

std::filesystem::path tokenizer_path(const ChatArgs& a) {
  if (!a.tokenizer.empty()) return a.tokenizer;
  const std::filesystem::path dir = a.model;
  DUOGEN_CHECK(std::filesystem::exists(dir / "tokenizer.json") ||
                   std::filesystem::exists(dir / "tokenizer.model"),
               UsageError,
               "{} has no tokenizer.json or tokenizer.model; pass --tokenizer DIR (e.g. "
               "shared/models/qwen2-tokenizer for the tiny test checkpoints)",
               dir.string());
  return dir;
}

std::string read_prompt(const ChatArgs& a) {
  if (a.prompt_file.empty()) return a.prompt;
  std::ifstream in(a.prompt_file, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the prompt file", a.prompt_file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void run_chat(const ChatArgs& a) {
  const DevicePlacement placement = resolve(a.placement);
  const std::string prompt = read_prompt(a);
  const auto tok = tokenizer::load_tokenizer(tokenizer_path(a));
  tokenizer::ChatTemplateOptions template_options;
  if (a.system) template_options.default_system_prompt = *a.system;
  const tokenizer::ChatTemplate chat(*tok, template_options);
  // Images first, then the text, as Qwen's own examples order a user turn.
  auto processor_config = qwen2_5_vl::ImageProcessorConfig::from_directory(a.model);
  processor_config.max_side = a.max_side;
  const qwen2_5_vl::ImageProcessor processor(processor_config);
  std::vector<std::filesystem::path> image_files(a.images.begin(), a.images.end());
  qwen2_5_vl::ProcessedImages images;
  tokenizer::ChatMessage user{"user", {}};
  if (!image_files.empty()) {
    images = processor.process_files(image_files);
    for (const std::int64_t n : processor.token_counts(images.grid_thw)) {
      user.items.push_back({tokenizer::ChatItemKind::kImage, {}, n, false});
    }
  }
  user.items.push_back({tokenizer::ChatItemKind::kText, prompt, 1, false});
  const auto rendered = chat.render({user});

  qwen2_5_vl::ModelOptions model_options;
  model_options.dtype = placement.dtype;
  model_options.device = placement.device;
  const auto load_start = std::chrono::steady_clock::now();
  const auto model = qwen2_5_vl::Model::load(a.model, model_options);
  spdlog::info(
      "loaded {} in {:.2f} s", a.model,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());

  for (const std::int32_t id : rendered.ids) {
    DUOGEN_CHECK(id < model.config().text.vocab_size, InvalidArgument,
                 "the prompt holds token id {} (tokenizer {}), outside the vocabulary [0, {}) of "
                 "{}: the tokenizer does not belong to this model",
                 id, tokenizer_path(a).string(), model.config().text.vocab_size, a.model);
  }
  qwen2_5_vl::ChunkInput input;
  input.input_ids =
      at::tensor(std::vector<std::int64_t>(rendered.ids.begin(), rendered.ids.end()), at::kLong);
  if (!image_files.empty()) {
    const auto vision =
        qwen2_5_vl::VisionTower::load(a.model, model_options.dtype, model_options.device);
    input.image_embeds = vision.forward(images.pixel_values.to(model_options.device),
                                        images.grid_thw);
    const at::Tensor g = images.grid_thw.to(at::kLong).contiguous();
    for (std::int64_t i = 0; i < g.size(0); ++i) {
      input.image_grids.push_back({g[i][0].item<std::int64_t>(), g[i][1].item<std::int64_t>(),
                                   g[i][2].item<std::int64_t>()});
    }
  }
  qwen2_5_vl::GenerationOptions options;
  options.max_new_tokens = a.max_new_tokens;
  options.stop_token_ids = qwen2_5_vl::stop_token_ids(a.model, model.config());
  if (auto im_end = tok->token_to_id("<|im_end|>")) options.stop_token_ids.push_back(*im_end);
  auto& s = options.sampling;
  s.do_sample = a.temperature > 0;
  if (s.do_sample) s.temperature = a.temperature;
  s.top_k = a.top_k;
  s.top_p = a.top_p;
  s.min_p = a.min_p;
  s.repetition_penalty = a.repetition_penalty;
  s.seed = a.seed;

  auto session = model.new_session();
  const auto start = std::chrono::steady_clock::now();
  const auto result = qwen2_5_vl::generate(model, session, input, options, tok.get(),
                                           [](std::int64_t, std::string_view text) {
                                             std::fwrite(text.data(), 1, text.size(), stdout);
                                             std::fflush(stdout);
                                             return true;
                                           });
  std::fputc('\n', stdout);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info(
      "prompt {} tokens, generated {} tokens in {:.2f} s ({})", rendered.ids.size(),
      result.tokens.size(), seconds,
      result.stop_reason == qwen2_5_vl::StopReason::kStopToken ? "stop token" : "max new tokens");
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "one chat turn with a Qwen2.5-VL model, streamed");
  cmd->add_option("--model", a->model, "Qwen2.5-VL checkpoint directory")->required();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "tokenizer directory or file (default: the model directory)");
  cmd->add_option("--image", a->images, "an image for the user turn (repeatable)");
  cmd->add_option("--max-side", a->max_side,
                  "downscale images to this max side before Qwen's resize (0 = off; DuoGen: 480)")
      ->check(CLI::NonNegativeNumber);
  auto* prompt = cmd->add_option("--prompt", a->prompt, "the user message");
  auto* prompt_file =
      cmd->add_option("--prompt-file", a->prompt_file, "read the user message from a file");
  prompt->excludes(prompt_file);
  cmd->add_option("--system", a->system, "system prompt (default: Qwen's)");
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "generation limit")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", a->temperature, "sampling temperature; 0 = greedy")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", a->top_k, "keep the k most likely tokens (0 = off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", a->top_p, "nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", a->min_p, "drop tokens below min_p x the top probability")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repetition-penalty", a->repetition_penalty, "1 = off")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", a->seed, "sampling seed");
  add_device_dtype_options(cmd, a->placement);
  cmd->callback([a, prompt, prompt_file] {
    DUOGEN_CHECK(prompt->count() + prompt_file->count() == 1, UsageError,
                 "chat: give the message with --prompt or --prompt-file");
    run_chat(*a);
  });
}

}  // namespace duogen::cli
