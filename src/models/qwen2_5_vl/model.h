// Qwen2.5-VL for generation (transformers 5.23 `Qwen2_5_VLForConditionalGeneration`, language
// side): token embeddings with image features scattered into the `<|image_pad|>` positions,
// M-RoPE positions (rope_index.h), the decoder with a KV cache, and the LM head (tied to the
// embeddings when `tie_word_embeddings`). The vision tower is separate: forward() takes its
// merged output (`image_embeds`, [N, H]) for the images of the chunk.
//
//   auto model = qwen2_5_vl::Model::load("Qwen2.5-VL-7B-Instruct", {at::kBFloat16});
//   auto session = model.new_session();
//   qwen2_5_vl::ChunkInput prompt{ids};
//   at::Tensor logits = model.forward(session, prompt).logits;   // [1, V] for the last token
//   logits = model.decode_step(session, next_id);                // [1, V]
//
// Batch 1 only: a Session is one conversation.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "io/weight_loader.h"
#include "models/qwen2_5_vl/config.h"
#include "models/qwen2_5_vl/kv_cache.h"
#include "models/qwen2_5_vl/rope_index.h"
#include "models/qwen2_5_vl/text_model.h"

namespace duogen::qwen2_5_vl {

struct ModelOptions {
  c10::ScalarType dtype = c10::kFloat;  // weight and compute dtype
  c10::Device device = c10::kCPU;
  KVCacheOptions cache;
  // false: the output head is not loaded (a text encoder that only needs hidden states, as
  // Cosmos' Reason1: 152064 x 3584 = 1.1 GB of the 7B in bf16). lm_head() and logits then throw.
  bool lm_head = true;
  // The engine's attention dispatch; null: the built-in order (kernels/ops/attention_dispatch.h).
  std::shared_ptr<const ops::AttentionDispatch> attention;
};

enum class LogitsMode { kNone, kLast, kAll };

// A chunk of tokens appended to a session: the prompt, a decoded token, or a span added later
// (e.g. a generated image's `<|vision_start|><|image_pad|>...<|vision_end|>` mid-decode).
struct ChunkInput {
  ChunkInput() = default;
  explicit ChunkInput(at::Tensor ids,
                      at::Tensor embeds = {},
                      std::vector<ImageGrid> grids = {},
                      LogitsMode mode = LogitsMode::kLast)
      : input_ids(std::move(ids)),
        image_embeds(std::move(embeds)),
        image_grids(std::move(grids)),
        logits(mode) {}

  at::Tensor input_ids;  // int64 [T] or [1, T]
  // Merged vision features of the chunk's images, in order: [sum of merged token counts, H].
  // Undefined when the chunk has no image tokens.
  at::Tensor image_embeds;
  std::vector<ImageGrid> image_grids;  // image_grid_thw rows of the chunk's images
  LogitsMode logits = LogitsMode::kLast;
  bool capture_hidden_states = false;
  // Token indices (within the chunk) whose hidden states to capture; empty = every token.
  std::vector<std::int64_t> capture_positions;
};

struct ChunkOutput {
  at::Tensor logits;  // fp32 [1, V] (kLast) or [T, V] (kAll); undefined for kNone
  // [L + 1, n, H] in the model dtype, transformers' output_hidden_states order: embeddings,
  // layers 0 .. L-2, then the final-normed output of layer L-1. Undefined unless captured.
  at::Tensor hidden_states;
  at::Tensor positions;  // int64 [3, T]: the chunk's M-RoPE positions
};

class Model;

// One conversation's state: the KV cache and the M-RoPE "next free position" after every prefix.
class Session {
 public:
  std::int64_t length() const { return cache_.length(); }
  // The position the next text token gets (transformers: length + rope_deltas).
  std::int64_t next_position() const { return next_at_.back(); }
  // Forgets every token from `length` on; positions rewind with it.
  void truncate(std::int64_t length);
  const KVCache& cache() const { return cache_; }

 private:
  friend class Model;
  explicit Session(KVCache cache) : cache_(std::move(cache)) {}
  KVCache cache_;
  std::vector<std::int64_t> next_at_{0};  // next_at_[i]: next free position after i tokens
};

class Model {
 public:
  // `dir` holds config.json and the safetensors (single, sharded or legacy/new names). Throws
  // FormatError for a config that is not Qwen2.5-VL's and WeightError listing every missing or
  // mis-shaped tensor. Vision weights (`visual.*`) are not loaded here.
  static Model load(const std::filesystem::path& dir, const ModelOptions& options = {});
  // The language model on weights from `store` (canonical names: `model.*`, `lm_head.*`); the
  // caller calls store.finish(). `duogen init-tiny` uses it with a materialising store.
  static Model from_weights(Config config, const ModelOptions& options, io::WeightStore& store);

  Session new_session() const;

  // Runs `chunk` after the session's tokens and appends it to the session. Throws
  // InvalidArgument for ids outside the vocabulary, image tokens that do not match
  // image_grids / image_embeds, or capture positions outside the chunk.
  ChunkOutput forward(Session& session, const ChunkInput& chunk) const;
  // One decoded token: fp32 logits [1, V] for the token after it.
  at::Tensor decode_step(Session& session, std::int64_t token) const;

  // ids [T] -> embeddings [T, H] with image_embeds scattered into the image-token rows.
  at::Tensor embed_inputs(const at::Tensor& ids, const at::Tensor& image_embeds) const;
  // Final-normed hidden states [T, H] -> fp32 logits [T, V]. Throws InvalidArgument for a model
  // loaded with options.lm_head = false.
  at::Tensor lm_head(const at::Tensor& hidden) const;

  const Config& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  const TextModel& text_model() const { return text_; }

 private:
  Model(Config config, ModelOptions options, TextModel text, at::Tensor lm_head_weight);

  Config config_;
  ModelOptions options_;
  TextModel text_;
  at::Tensor lm_head_weight_;  // [V, H]; the embedding matrix when tied; undefined without a head
};

}  // namespace duogen::qwen2_5_vl
