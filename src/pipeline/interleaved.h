// The DuoGen decoding loop (architecture.md §1.2), written against two interfaces so that the
// orchestration — when an image is made, from which context, with which condition frames, in
// which order outputs appear — is independent of the model code and testable on its own.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/conditioning.h"
#include "pipeline/job.h"
#include "pipeline/job_output.h"

namespace duogen::pipeline {

struct TextSampling {
  double temperature = 0.0;  // 0: greedy
  std::int64_t top_k = 0;    // 0: off
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  std::vector<std::pair<std::int64_t, double>> logit_bias;  // resolved token ids
};

// The MLLM side: a conversation context that grows token by token and image by image.
class ConversationModel {
 public:
  virtual ~ConversationModel() = default;
  // Tokenizes the messages with the chat template plus the assistant generation prompt and
  // prefills them (user images through the vision tower). Returns the prompt length.
  virtual std::int64_t start(const std::vector<Message>& messages, std::uint64_t seed) = 0;
  // Samples the next token from the current logits, appends it to the context, returns it.
  virtual std::int64_t sample_next(const TextSampling& sampling) = 0;
  // Appends `token` as if it had been sampled (text-to-image and editing open the answer with
  // <BOV>, the way a chat prefill forces the start of a reply).
  virtual void force_next(std::int64_t token) = 0;
  // Text for `token`, decoded incrementally (may be empty until a UTF-8 sequence completes).
  virtual std::string token_text(std::int64_t token) = 0;
  // Text still held by the incremental decoder (an incomplete sequence at the end).
  virtual std::string flush_text() = 0;
  // All-layer hidden states of context positions [0, end): [layers + 1, end, hidden].
  virtual at::Tensor hidden_states(std::int64_t end) = 0;
  // Appends a generated image after the current <BOV>: its vision tokens and <|vision_end|>,
  // positions continuing (architecture.md §1.2 step 8).
  virtual void append_image(const at::Tensor& rgb) = 0;
  virtual const ContextMarks& marks() const = 0;
  virtual std::int64_t length() const = 0;
  // Images the user gave, in conversation order (uint8 [H, W, 3]); condition frames first.
  virtual const std::vector<at::Tensor>& user_images() const = 0;
};

struct ImageRequest {
  at::Tensor context;  // [layers + 1, p, hidden]: every token before <BOV>
  std::int64_t negative_length = 0;  // the negative branch uses context[:, :negative_length]
  bool zero_negative = false;        // Cosmos' all-zero unconditional context instead
  std::vector<at::Tensor> condition_images;  // uint8 [H, W, 3], conversation order
  std::int64_t width = 768;
  std::int64_t height = 768;
  std::int64_t steps = 35;
  double guidance = 7.0;
  std::string solver = "unipc";
  std::string schedule = "linear_shift";
  std::uint64_t seed = 0;
};

using ProgressFn = std::function<void(std::int64_t step, std::int64_t steps)>;

// Connector + DiT + sampler + VAE: one image from a context and condition frames.
class ImageModel {
 public:
  virtual ~ImageModel() = default;
  // Returns uint8 [height, width, 3]; adds its stage timings (seconds) to `timings`.
  virtual at::Tensor generate(const ImageRequest& request, const ProgressFn& progress,
                              std::vector<std::pair<std::string, double>>& timings) = 0;
};

struct InterleavedSettings {
  std::int64_t bov_token_id = 151665;
  std::set<std::int64_t> stop_token_ids;  // end of turn / end of text
  std::int64_t max_new_tokens = 1024;
  std::int64_t max_images = 8;
  CfgNegative cfg_negative = CfgNegative::kAfterLastImage;
  TextSampling text;
  ImageRequest image;  // the per-image settings (context and conditions are filled per image)
  std::uint64_t seed = 1;
  // Text-to-image and editing: the answer starts with <BOV> and ends after the first image.
  bool image_only = false;
};

struct InterleavedCallbacks {
  std::function<void(std::string_view)> on_text;                  // streamed text pieces
  // Each finished image (1-based index), with the parameters its PNG carries.
  std::function<void(std::size_t index, const OutputSegment&)> on_image;
  ProgressFn on_image_progress;
  // Called before every decoding step; may throw (duogen::Cancelled) to abandon the job.
  std::function<void()> on_step;
};

// Runs one job: prefill, decode, make an image at every <BOV> (until max_images; after that
// <BOV> is suppressed), resume decoding with the image in context, stop at a stop token or
// max_new_tokens. Image n (1-based) is sampled with seed + n - 1, so a run is reproducible and
// each image's seed is known. Fills segments, token counts, stop reason and timings.
JobResult run_interleaved(ConversationModel& mllm, ImageModel& images, const Job& job,
                          const InterleavedSettings& settings,
                          const InterleavedCallbacks& callbacks = {});

}  // namespace duogen::pipeline
