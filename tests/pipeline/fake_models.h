// Scripted stand-ins for the MLLM and the image model, for testing the orchestration in
// src/pipeline without model weights.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "pipeline/interleaved.h"

namespace duogen::pipeline::fakes {

constexpr std::int64_t kBov = 100;
constexpr std::int64_t kEos = 101;
constexpr std::int64_t kNotBov = 7;  // what the script yields when <BOV> is banned
constexpr std::int64_t kPrompt = 10;

// Tokens come from a script; token t decodes to the letter 'a' + t (for t < 26). A <BOV> banned
// by a -inf bias is replaced by kNotBov, as a sampler would pick something else.
class ScriptedConversation : public ConversationModel {
 public:
  explicit ScriptedConversation(std::vector<std::int64_t> script) : script_(std::move(script)) {}

  std::int64_t start(const std::vector<Message>&, std::uint64_t seed) override {
    seed_ = seed;
    length_ = kPrompt;
    marks_ = {3, 8, {6}};  // a user image ending at 6, the assistant turn from 8
    return kPrompt;
  }
  std::int64_t sample_next(const TextSampling& sampling) override {
    std::int64_t t = next_ < script_.size() ? script_[next_++] : kEos;
    for (const auto& [id, bias] : sampling.logit_bias) {
      if (id == t && std::isinf(bias) && bias < 0) t = kNotBov;
    }
    ++length_;
    return t;
  }
  void force_next(std::int64_t token) override {
    forced.push_back(token);
    ++length_;
  }
  std::string token_text(std::int64_t token) override {
    return std::string(1, static_cast<char>('a' + token));
  }
  std::string flush_text() override { return ""; }
  at::Tensor hidden_states(std::int64_t end) override {
    // [layers + 1 = 3, end, hidden = 2]; value = position, so the test can read the length.
    return at::arange(end, at::kFloat).view({1, end, 1}).expand({3, end, 2});
  }
  void append_image(const at::Tensor& rgb) override {
    appended.push_back(rgb);
    length_ += 5;  // vision tokens + <|vision_end|>
    marks_.image_ends.push_back(length_ - 1);
  }
  const ContextMarks& marks() const override { return marks_; }
  std::int64_t length() const override { return length_; }
  const std::vector<at::Tensor>& user_images() const override { return user_images_; }

  std::vector<at::Tensor> appended;
  std::vector<std::int64_t> forced;
  std::vector<at::Tensor> user_images_ = {at::full({4, 4, 3}, 9, at::kByte)};
  std::uint64_t seed_ = 0;

 private:
  std::vector<std::int64_t> script_;
  std::size_t next_ = 0;
  std::int64_t length_ = 0;
  ContextMarks marks_;
};

class RecordingImageModel : public ImageModel {
 public:
  at::Tensor generate(const ImageRequest& request, const ProgressFn& progress,
                      std::vector<std::pair<std::string, double>>& timings) override {
    requests.push_back(request);
    for (std::int64_t s = 1; s <= request.steps && progress; ++s) progress(s, request.steps);
    timings.emplace_back("dit", 0.0);
    return at::full({request.height, request.width, 3}, static_cast<int>(request.seed % 256),
                    at::kByte);
  }
  std::vector<ImageRequest> requests;
};

}  // namespace duogen::pipeline::fakes
