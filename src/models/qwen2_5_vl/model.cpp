#include "models/qwen2_5_vl/model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <string>

#include "core/check.h"
#include "core/logging.h"
#include "io/checkpoint.h"
#include "io/weight_loader.h"
#include "models/qwen2_5_vl/weights.h"

namespace duogen::qwen2_5_vl {
namespace {

at::Tensor flat_ids(const at::Tensor& ids) {
  DUOGEN_CHECK(ids.defined() && ids.scalar_type() == at::kLong &&
                   (ids.dim() == 1 || (ids.dim() == 2 && ids.size(0) == 1)),
               InvalidArgument, "Qwen2.5-VL: input_ids must be int64 [T] or [1, T], got {}",
               ids.defined() ? fmt::format("{} {}", c10::toString(ids.scalar_type()),
                                           fmt::join(ids.sizes(), ", "))
                             : std::string("an undefined tensor"));
  return ids.reshape({-1});
}

}  // namespace

void Session::truncate(std::int64_t length) {
  cache_.truncate(length);
  next_at_.resize(length + 1);
}

Model::Model(Config config, ModelOptions options, TextModel text, at::Tensor lm_head_weight)
    : config_(std::move(config)),
      options_(options),
      text_(std::move(text)),
      lm_head_weight_(std::move(lm_head_weight)) {}

Model Model::load(const std::filesystem::path& dir, const ModelOptions& options) {
  c10::InferenceMode guard;
  Config config = Config::from_directory(dir);
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(dir));
  io::WeightStore store(checkpoint, weight_load_options(options.dtype, options.device));
  Model model = from_weights(std::move(config), options, store);
  store.finish("Qwen2.5-VL language model (" + dir.string() + ")", /*report_unused=*/false);
  // The vision tower loads `visual.*` itself; anything else left over is worth a warning.
  std::vector<std::string> unused;
  for (const auto& name : store.unused()) {
    if (name.starts_with("visual.") || name.starts_with("model.visual.")) continue;
    if (!options.lm_head && name == "lm_head.weight") continue;  // left out on request
    unused.push_back(name);
  }
  if (!unused.empty()) {
    const std::size_t shown = std::min<std::size_t>(unused.size(), 8);  // a line, not a page
    spdlog::warn(
        "{}: {} checkpoint tensor(s) unused by the language model: {}{}", dir.string(),
        unused.size(),
        fmt::join(unused.begin(), unused.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
        unused.size() > shown ? ", ..." : "");
  }
  return model;
}

Model Model::from_weights(Config config, const ModelOptions& options, io::WeightStore& store) {
  TextModel text = TextModel::load(store.root().sub("model"), config.text);
  text.set_attention(options.attention);
  at::Tensor lm_head;
  const std::vector<std::int64_t> head_shape = {config.text.vocab_size, config.text.hidden_size};
  if (!options.lm_head) {
    // Hidden states only: lm_head.weight (if the checkpoint has one) is neither read nor checked.
  } else if (config.tie_word_embeddings) {
    // transformers ties lm_head to embed_tokens and ignores a saved lm_head.weight.
    store.root().get_optional("lm_head.weight", head_shape);
    lm_head = text.embed_tokens();
  } else {
    lm_head = store.root().get("lm_head.weight", head_shape);
  }
  return Model(std::move(config), options, std::move(text), std::move(lm_head));
}

Session Model::new_session() const {
  const auto& t = config_.text;
  return Session(KVCache(t.num_hidden_layers, t.num_key_value_heads, t.head_dim(),
                         at::TensorOptions().dtype(options_.dtype).device(options_.device),
                         options_.cache));
}

at::Tensor Model::embed_inputs(const at::Tensor& ids, const at::Tensor& image_embeds) const {
  const at::Tensor flat = flat_ids(ids).to(options_.device);
  const std::int64_t vocab = config_.text.vocab_size;
  if (flat.numel() > 0) {
    const std::int64_t lo = flat.min().item<std::int64_t>();
    const std::int64_t hi = flat.max().item<std::int64_t>();
    DUOGEN_CHECK(lo >= 0 && hi < vocab, InvalidArgument,
                 "Qwen2.5-VL: token id {} outside the vocabulary [0, {})", lo < 0 ? lo : hi, vocab);
  }
  at::Tensor embeds = text_.embed(flat);  // [T, H]
  const at::Tensor is_image = flat == config_.image_token_id;
  const std::int64_t n_image = is_image.sum().item<std::int64_t>();
  const std::int64_t h = config_.text.hidden_size;
  if (!image_embeds.defined()) {
    DUOGEN_CHECK(n_image == 0, InvalidArgument,
                 "Qwen2.5-VL: {} image tokens (id {}) but no image embeddings", n_image,
                 config_.image_token_id);
    return embeds;
  }
  DUOGEN_CHECK(
      image_embeds.dim() == 2 && image_embeds.size(0) == n_image && image_embeds.size(1) == h,
      InvalidArgument, "Qwen2.5-VL: image embeddings must be [{} image tokens, {}], got {}",
      n_image, h, image_embeds.sizes());
  // transformers' masked_scatter: the image features fill the image-token rows in order.
  embeds = embeds.clone();
  embeds.index_put_({is_image}, image_embeds.to(embeds.device(), embeds.scalar_type()));
  return embeds;
}

at::Tensor Model::lm_head(const at::Tensor& hidden) const {
  DUOGEN_CHECK(lm_head_weight_.defined(), InvalidArgument,
               "this Qwen2.5-VL model was loaded without its output head (ModelOptions::lm_head "
               "= false, hidden states only): it has no logits");
  return at::linear(hidden, lm_head_weight_).to(at::kFloat);
}

ChunkOutput Model::forward(Session& session, const ChunkInput& chunk) const {
  c10::InferenceMode guard;
  const at::Tensor ids = flat_ids(chunk.input_ids);
  const std::int64_t t = ids.numel();
  DUOGEN_CHECK(t > 0, InvalidArgument, "Qwen2.5-VL: a chunk needs at least one token");
  RopeIndexOptions rope_options;
  rope_options.image_token_id = config_.image_token_id;
  rope_options.spatial_merge_size = config_.vision.spatial_merge_size;
  const RopeIndex rope =
      compute_rope_index(ids, chunk.image_grids, rope_options, session.next_position());
  if (chunk.image_embeds.defined()) {
    std::int64_t expected = 0;
    for (const auto& g : chunk.image_grids)
      expected += merged_token_count(g, rope_options.spatial_merge_size);
    DUOGEN_CHECK(chunk.image_embeds.dim() == 2 && chunk.image_embeds.size(0) == expected,
                 InvalidArgument,
                 "Qwen2.5-VL: the image grids give {} merged tokens, image_embeds has shape {}",
                 expected, chunk.image_embeds.sizes());
  }
  const at::Tensor embeds = embed_inputs(ids, chunk.image_embeds);

  HiddenStateCapture capture;
  if (chunk.capture_hidden_states) {
    std::vector<std::int64_t> rows = chunk.capture_positions;
    if (rows.empty()) {
      rows.resize(t);
      for (std::int64_t i = 0; i < t; ++i) rows[i] = i;
    }
    for (std::int64_t r : rows) {
      DUOGEN_CHECK(r >= 0 && r < t, InvalidArgument,
                   "Qwen2.5-VL: capture position {} outside the chunk of {} tokens", r, t);
    }
    capture.rows = at::tensor(rows, at::kLong).to(options_.device);
  }
  const at::Tensor hidden = text_.forward(embeds, rope.positions, session.cache_,
                                          chunk.capture_hidden_states ? &capture : nullptr);
  // Positions of the new prefixes: every token of a text run or an image advances `next`
  // monotonically, so the running maximum + 1 is the next free position after each prefix.
  const at::Tensor max_pos = std::get<0>(rope.positions.amax(0).cummax(0)) + 1;
  const auto* mp = max_pos.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < t; ++i) {
    session.next_at_.push_back(std::max(mp[i], session.next_position()));
  }
  session.next_at_.back() = rope.next_position;

  ChunkOutput out;
  out.positions = rope.positions;
  switch (chunk.logits) {
    case LogitsMode::kNone:
      break;
    case LogitsMode::kLast:
      out.logits = lm_head(hidden.narrow(0, t - 1, 1));
      break;
    case LogitsMode::kAll:
      out.logits = lm_head(hidden);
      break;
  }
  if (chunk.capture_hidden_states) out.hidden_states = at::stack(capture.entries, 0);
  return out;
}

at::Tensor Model::decode_step(Session& session, std::int64_t token) const {
  ChunkInput chunk;
  chunk.input_ids = at::tensor({token}, at::kLong);
  return forward(session, chunk).logits;
}

}  // namespace duogen::qwen2_5_vl
