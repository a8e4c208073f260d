#include "models/cosmos_dit/dit.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include "core/check.h"
#include "io/checkpoint.h"
#include "models/cosmos_dit/embeddings.h"
#include "models/cosmos_dit/rope3d.h"

namespace duogen::cosmos_dit {
namespace {

// Any accepted timestep shape -> [B, frames] fp32.
at::Tensor frame_timesteps(const at::Tensor& t, std::int64_t batch, std::int64_t frames) {
  DUOGEN_CHECK(t.defined(), InvalidArgument, "Cosmos DiT: timesteps are undefined");
  at::Tensor v = t.to(at::kFloat);
  if (v.dim() == 5) {  // diffusers' [B, 1, T, 1, 1]
    DUOGEN_CHECK(v.size(1) == 1 && v.size(3) == 1 && v.size(4) == 1, InvalidArgument,
                 "Cosmos DiT: 5-D timesteps must be [B, 1, T, 1, 1], got {}", t.sizes());
    v = v.flatten(1);
  }
  if (v.dim() == 0) v = v.reshape({1, 1});
  if (v.dim() == 1) v = v.unsqueeze(1);  // [B] or [1]: one value for every frame
  DUOGEN_CHECK(v.dim() == 2 && (v.size(0) == batch || v.size(0) == 1) &&
                   (v.size(1) == frames || v.size(1) == 1),
               InvalidArgument,
               "Cosmos DiT: timesteps {} do not fit batch {} x {} frames (accepted: scalar, [B], "
               "[B, T], [B, 1, T, 1, 1])",
               t.sizes(), batch, frames);
  return v.expand({batch, frames}).contiguous();
}

}  // namespace

CosmosDiT::CosmosDiT(Config config, DitOptions options)
    : config_(std::move(config)), options_(options) {}
CosmosDiT::CosmosDiT(CosmosDiT&&) noexcept = default;
CosmosDiT& CosmosDiT::operator=(CosmosDiT&&) noexcept = default;
CosmosDiT::~CosmosDiT() = default;

CosmosDiT CosmosDiT::load(const std::filesystem::path& model, const DitOptions& options) {
  auto checkpoint = std::make_shared<io::Checkpoint>(io::Checkpoint::open(model));
  Config config = Config::from_directory(checkpoint->directory());
  const Layout layout = detect_layout(*checkpoint);
  io::WeightStore store(checkpoint,
                        weight_load_options(layout, config, options.dtype, options.device));
  return from_weights(std::move(config), options, store, layout);
}

CosmosDiT CosmosDiT::from_weights(Config config_in, const DitOptions& options,
                                  io::WeightStore& store, Layout layout) {
  DUOGEN_CHECK(options.dtype == at::kFloat || options.dtype == at::kBFloat16 ||
                   options.dtype == at::kHalf,
               InvalidArgument, "Cosmos DiT: unsupported network dtype {}",
               c10::toString(options.dtype));
  CosmosDiT dit(std::move(config_in), options);
  const Config& config = dit.config_;
  dit.layout_ = layout;
  const auto root = store.root();
  const std::int64_t d = config.hidden_size();

  dit.patch_embed_ = root.get("patch_embed.proj.weight", {d, config.patch_in_features()});
  dit.time_embed_ = std::make_unique<TimeEmbedding>(root.sub("time_embed"), config);
  dit.rope_ = std::make_unique<Rope3D>(config);
  dit.blocks_.reserve(static_cast<std::size_t>(config.num_layers));
  for (std::int64_t i = 0; i < config.num_layers; ++i) {
    dit.blocks_.emplace_back(root.sub(fmt::format("transformer_blocks.{}", i)), config,
                             options.dtype);
  }
  dit.norm_out_ = std::make_unique<AdaLNModulation>(root.sub("norm_out"), config, 2);
  dit.proj_out_ = root.get("proj_out.weight", {config.patch_out_features(), d});
  if (dit.proj_out_.defined()) dit.proj_out_ = dit.proj_out_.to(at::kFloat);
  if (options.connector.empty()) {
    dit.connector_ = load_connector(root, config, options.dtype);
  } else {
    auto file = std::make_shared<io::Checkpoint>(io::Checkpoint::open(options.connector));
    io::WeightLoadOptions load_options;
    load_options.dtype = options.dtype;
    load_options.device = options.device;
    io::WeightStore connector_store(file, load_options);
    dit.connector_ = load_connector(connector_store.root(), config, options.dtype);
    connector_store.finish("the DiT connector");
  }

  const std::string what = fmt::format("Cosmos DiT ({})", layout_name(dit.layout_));
  store.finish(what, /*report_unused=*/false);
  // Strict: a tensor nobody reads means the checkpoint is not the network the config describes.
  const auto unused = store.unused();
  if (!unused.empty()) {
    const std::size_t shown = std::min<std::size_t>(unused.size(), 8);
    DUOGEN_FAIL(WeightError, "{}: {} has {} unknown tensor(s): {}{}", what,
                store.checkpoint().describe(), unused.size(),
                fmt::join(unused.begin(), unused.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                unused.size() > shown ? ", ..." : "");
  }
  return dit;
}

DitContext CosmosDiT::prepare_context(const at::Tensor& context) const {
  c10::InferenceMode guard;
  DUOGEN_CHECK(context.defined() && (context.dim() == 2 || context.dim() == 3), InvalidArgument,
               "Cosmos DiT: context must be [L, C] or [B, L, C], got {}",
               context.defined() ? context.sizes() : c10::IntArrayRef{});
  DUOGEN_CHECK(context.size(-1) == connector_->in_channels(), InvalidArgument,
               "Cosmos DiT: context has {} channels but the connector ({}) takes {}",
               context.size(-1), connector_->kind(), connector_->in_channels());
  const at::Tensor c = context.dim() == 2 ? context.unsqueeze(0) : context;
  DitContext out;
  out.context = connector_->forward(c.to(options_.device));
  out.blocks.reserve(blocks_.size());
  for (const auto& block : blocks_) out.blocks.push_back(block.prepare_context(out.context));
  return out;
}

DitContext stack_contexts(const std::vector<const DitContext*>& parts) {
  DUOGEN_CHECK(!parts.empty(), InvalidArgument, "Cosmos DiT: no contexts to stack");
  const std::size_t blocks = parts.front()->blocks.size();
  std::vector<std::int64_t> cu = {0};
  for (const DitContext* part : parts) {
    DUOGEN_CHECK(part->blocks.size() == blocks && blocks > 0, InvalidArgument,
                 "Cosmos DiT: contexts with {} and {} blocks' k/v cannot be stacked",
                 part->blocks.size(), blocks);
    const auto& kv = part->blocks.front();
    DUOGEN_CHECK(!kv.cu_seqlens.defined() && kv.k.size(0) == 1, InvalidArgument,
                 "Cosmos DiT: only batch-1 contexts can be stacked, got k {}", kv.k.sizes());
    cu.push_back(cu.back() + kv.k.size(2));
  }
  DitContext out;
  const at::Tensor cu_seqlens = at::tensor(cu, at::kLong);
  for (std::size_t i = 0; i < blocks; ++i) {
    std::vector<at::Tensor> ks, vs;
    for (const DitContext* part : parts) {
      // [1, heads, L, head_dim] -> [L, heads, head_dim], the varlen layout.
      ks.push_back(part->blocks[i].k[0].transpose(0, 1));
      vs.push_back(part->blocks[i].v[0].transpose(0, 1));
    }
    out.blocks.push_back({at::cat(ks, 0), at::cat(vs, 0), cu_seqlens});
  }
  return out;
}

DitContext CosmosDiT::prepare_context_from_hidden_states(
    const at::Tensor& hidden_states_all_layers) const {
  c10::InferenceMode guard;
  return prepare_context(
      concat_normalized_layers(hidden_states_all_layers, connector_->in_channels()));
}

at::Tensor CosmosDiT::run(const at::Tensor& features, const at::Tensor& timesteps,
                          const std::vector<std::int64_t>& frame_tokens, const RopeTables& rope,
                          const DitContext& context, std::size_t first_out) const {
  DUOGEN_CHECK(context.blocks.size() == blocks_.size(), InvalidArgument,
               "Cosmos DiT: the context holds {} blocks' k/v, the network has {} blocks (was it "
               "prepared by this network?)",
               context.blocks.size(), blocks_.size());
  const auto te = time_embed_->forward(timesteps);
  FrameConditioning cond{te.embedded, te.lora, frame_tokens};
  at::Tensor h = at::linear(features.to(options_.device, options_.dtype), patch_embed_);
  // Stacked contexts: the cross-attention segments are made (and copied to the device) once.
  const bool stacked = !context.blocks.empty() && context.blocks.front().cu_seqlens.defined();
  const ops::VarlenLayout cross =
      stacked ? cross_attention_segments(context.blocks.front(), h.size(0), h.size(1), h.device())
              : ops::VarlenLayout{};
  const BlockAttention attention{options_.attention.get(), stacked ? &cross : nullptr};
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i].forward(h, cond, rope, context.blocks[i], attention);
  }

  // Final layer, in fp32, on the frames whose output is wanted.
  std::int64_t offset = 0;
  for (std::size_t f = 0; f < first_out; ++f) offset += frame_tokens[f];
  const auto first = static_cast<std::int64_t>(first_out);
  const auto count = static_cast<std::int64_t>(frame_tokens.size()) - first;
  FrameConditioning out_cond{cond.embedded.narrow(1, first, count),
                             cond.lora.narrow(1, first, count),
                             {frame_tokens.begin() + first, frame_tokens.end()}};
  const at::Tensor x = h.narrow(1, offset, h.size(1) - offset).to(at::kFloat);
  const auto m = norm_out_->forward(out_cond);
  return at::linear(modulate(x, m[0], m[1], out_cond.frame_tokens), proj_out_);
}

at::Tensor CosmosDiT::velocity(const at::Tensor& x, const at::Tensor& timesteps,
                               const DitContext& context, const at::Tensor& condition_mask,
                               const at::Tensor& padding_mask) const {
  c10::InferenceMode guard;
  const auto& c = config_;
  DUOGEN_CHECK(x.defined() && x.dim() == 5, InvalidArgument,
               "Cosmos DiT: latents must be [B, C, T, H, W], got {}",
               x.defined() ? x.sizes() : c10::IntArrayRef{});
  const std::int64_t b = x.size(0), t = x.size(2), h = x.size(3), w = x.size(4);
  DUOGEN_CHECK(x.size(1) == c.latent_channels(), InvalidArgument,
               "Cosmos DiT: latents have {} channels, the network takes {}", x.size(1),
               c.latent_channels());
  DUOGEN_CHECK(h % c.patch_size[1] == 0 && w % c.patch_size[2] == 0 && t > 0 && h > 0 && w > 0,
               InvalidArgument, "Cosmos DiT: latent size {}x{} is not a multiple of the patch {}x{}",
               h, w, c.patch_size[1], c.patch_size[2]);
  const auto opts = x.options().device(options_.device).dtype(options_.dtype);
  std::vector<at::Tensor> channels = {x.to(options_.device, options_.dtype)};
  if (c.has_condition_mask_channel()) {
    if (condition_mask.defined()) {
      DUOGEN_CHECK(condition_mask.dim() == 5 &&
                       (condition_mask.size(0) == b || condition_mask.size(0) == 1) &&
                       condition_mask.size(1) == 1 && condition_mask.size(2) == t &&
                       condition_mask.size(3) == h && condition_mask.size(4) == w,
                   InvalidArgument, "Cosmos DiT: condition_mask must be [B or 1, 1, {}, {}, {}], got {}",
                   t, h, w, condition_mask.sizes());
      channels.push_back(condition_mask.to(options_.device, options_.dtype).expand({b, 1, t, h, w}));
    } else {
      channels.push_back(at::zeros({b, 1, t, h, w}, opts));
    }
  } else {
    DUOGEN_CHECK(!condition_mask.defined(), InvalidArgument,
                 "Cosmos DiT: this network has no condition-mask channel (in_channels = "
                 "out_channels = {}), but a condition_mask was given",
                 c.out_channels);
  }
  if (c.concat_padding_mask) {
    if (padding_mask.defined()) {
      DUOGEN_CHECK(padding_mask.dim() == 4 && padding_mask.size(1) == 1 &&
                       (padding_mask.size(0) == b || padding_mask.size(0) == 1),
                   InvalidArgument, "Cosmos DiT: padding_mask must be [B or 1, 1, h, w], got {}",
                   padding_mask.sizes());
      // torchvision NEAREST resize = interpolate(mode="nearest"), as diffusers does.
      const at::Tensor resized = at::upsample_nearest2d(
          padding_mask.to(options_.device, at::kFloat), {h, w}).to(options_.dtype);
      channels.push_back(resized.unsqueeze(2).expand({b, 1, t, h, w}));
    } else {
      channels.push_back(at::zeros({b, 1, t, h, w}, opts));
    }
  } else {
    DUOGEN_CHECK(!padding_mask.defined(), InvalidArgument,
                 "Cosmos DiT: this network does not take a padding mask (concat_padding_mask "
                 "is false)");
  }
  const at::Tensor features = patchify(at::cat(channels, 1), c.patch_size);
  const std::int64_t hp = h / c.patch_size[1], wp = w / c.patch_size[2];
  const std::vector<std::int64_t> frame_tokens(static_cast<std::size_t>(t), hp * wp);
  const RopeTables rope = rope_->tables(t, hp, wp, options_.device);
  const at::Tensor out = run(features, frame_timesteps(timesteps, b, t).to(options_.device),
                             frame_tokens, rope, context, 0);
  return unpatchify(out, t, hp, wp, c.patch_size, c.out_channels);
}

at::Tensor CosmosDiT::velocity_packed(const std::vector<PackedFrame>& frames,
                                      const DitContext& context) const {
  c10::InferenceMode guard;
  const auto& c = config_;
  DUOGEN_CHECK(!frames.empty(), InvalidArgument, "Cosmos DiT: velocity_packed needs at least the "
               "target frame");
  const std::int64_t b = frames.back().latent.defined() ? frames.back().latent.size(0) : 0;
  std::vector<at::Tensor> features, steps;
  std::vector<std::int64_t> frame_tokens;
  std::vector<FrameGrid> grids;
  const auto opts = at::TensorOptions().device(options_.device).dtype(options_.dtype);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const auto& fr = frames[f];
    DUOGEN_CHECK(fr.latent.defined() && (fr.latent.dim() == 4 ||
                                         (fr.latent.dim() == 5 && fr.latent.size(2) == 1)),
                 InvalidArgument, "Cosmos DiT: packed frame {} must be [B, C, h, w] or "
                 "[B, C, 1, h, w], got {}",
                 f, fr.latent.defined() ? fr.latent.sizes() : c10::IntArrayRef{});
    const at::Tensor lat = fr.latent.dim() == 4 ? fr.latent.unsqueeze(2) : fr.latent;
    const std::int64_t h = lat.size(3), w = lat.size(4);
    DUOGEN_CHECK(lat.size(0) == b && lat.size(1) == c.latent_channels(), InvalidArgument,
                 "Cosmos DiT: packed frame {} is {}; expected batch {} and {} latent channels", f,
                 fr.latent.sizes(), b, c.latent_channels());
    DUOGEN_CHECK(h > 0 && w > 0 && h % c.patch_size[1] == 0 && w % c.patch_size[2] == 0,
                 InvalidArgument, "Cosmos DiT: packed frame {} size {}x{} is not a multiple of "
                 "the patch {}x{}", f, h, w, c.patch_size[1], c.patch_size[2]);
    std::vector<at::Tensor> ch = {lat.to(options_.device, options_.dtype)};
    if (c.has_condition_mask_channel()) {
      ch.push_back(at::full({b, 1, 1, h, w}, fr.condition ? 1.0 : 0.0, opts));
    }
    if (c.concat_padding_mask) ch.push_back(at::zeros({b, 1, 1, h, w}, opts));
    features.push_back(patchify(at::cat(ch, 1), c.patch_size));
    const std::int64_t hp = h / c.patch_size[1], wp = w / c.patch_size[2];
    frame_tokens.push_back(hp * wp);
    grids.push_back({static_cast<std::int64_t>(f), hp, wp});
    DUOGEN_CHECK(fr.timestep.defined() && fr.timestep.numel() >= 1 &&
                     (fr.timestep.numel() == 1 || fr.timestep.numel() == b),
                 InvalidArgument, "Cosmos DiT: packed frame {} timestep must be a scalar, [1] or "
                 "[B = {}]", f, b);
    steps.push_back(fr.timestep.to(at::kFloat).reshape({-1}).expand({b}));
  }
  const RopeTables rope = rope_->tables(grids, options_.device);
  const at::Tensor out = run(at::cat(features, 1), at::stack(steps, 1).to(options_.device),
                             frame_tokens, rope, context, frames.size() - 1);
  const auto& target = grids.back();
  at::Tensor v = unpatchify(out, 1, target.height, target.width, c.patch_size, c.out_channels);
  return frames.back().latent.dim() == 4 ? v.squeeze(2) : v;
}

}  // namespace duogen::cosmos_dit
