#include "runtime/world_plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/checkpoint.h"
#include "io/pipeline_snapshot.h"
#include "runtime/byte_size.h"

namespace duogen::runtime {
namespace {

using nlohmann::json;
using u64 = std::uint64_t;

u64 u(std::int64_t v) { return static_cast<u64>(std::max<std::int64_t>(v, 0)); }

std::string human_count(std::int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.3f}B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.2f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::int64_t part_parameters(const WeightCensus& census, const std::string& part) {
  const auto it = census.parts.find(part);
  return it == census.parts.end() ? 0 : it->second.floating + it->second.fixed;
}

u64 sum(const ByteParts& parts) {
  u64 n = 0;
  for (const auto& [k, v] : parts) n += v;
  return n;
}

}  // namespace

WorldDescription describe_world_configs(const qwen2_5_vl::Config& text_encoder,
                                        const cosmos_dit::Config& transformer,
                                        const wan_vae::Config& vae) {
  WorldDescription d;
  d.root = "configs";
  d.pipeline_class = "Cosmos2_5_PredictBasePipeline";
  d.text_encoder = text_encoder;
  d.transformer = transformer;
  d.vae = vae;
  d.text_encoder_weights = census_qwen_config(text_encoder);
  d.transformer_weights = census_dit_config(transformer);
  d.vae_weights = census_vae_config(vae);
  return d;
}

WorldDescription describe_snapshot(const io::PipelineSnapshot& s) {
  // The checks WorldPipeline::load makes before it loads anything.
  DUOGEN_CHECK(s.class_name == "Cosmos2_5_PredictBasePipeline", FormatError,
               "{}: '_class_name' is \"{}\"; duogen plans Cosmos2_5_PredictBasePipeline snapshots "
               "(DuoGen models have a duogen.json instead)",
               s.index_file.string(), s.class_name);
  const auto& te = s.component("text_encoder", "Qwen2_5_VLForConditionalGeneration");
  s.component("tokenizer");
  const auto& tr = s.component("transformer", "CosmosTransformer3DModel");
  const auto& va = s.component("vae", "AutoencoderKLWan");
  s.component("scheduler", "UniPCMultistepScheduler");

  WorldDescription d;
  d.root = s.root.string();
  d.pipeline_class = s.class_name;
  d.text_encoder = qwen2_5_vl::Config::from_directory(te.dir);
  d.transformer = cosmos_dit::Config::from_directory(tr.dir);
  d.vae = wan_vae::Config::from_directory(va.dir);
  const auto& text = d.text_encoder.text;
  const std::int64_t width = text.num_hidden_layers * text.hidden_size;
  DUOGEN_CHECK(
      !d.transformer.use_crossattn_projection || width == d.transformer.crossattn_proj_in_channels,
      FormatError,
      "{}: the text encoder gives {} channels per token ({} layers x {}), the "
      "transformer's connector takes {} (crossattn_proj_in_channels)",
      s.root.string(), width, text.num_hidden_layers, text.hidden_size,
      d.transformer.crossattn_proj_in_channels);
  DUOGEN_CHECK(
      d.transformer.latent_channels() == d.vae.z_dim && d.transformer.has_condition_mask_channel(),
      FormatError,
      "{}: the transformer ({} in, {} out channels) does not fit the VAE's {} latent "
      "channels plus the condition-mask channel",
      s.root.string(), d.transformer.in_channels, d.transformer.out_channels, d.vae.z_dim);

  d.text_encoder_weights = has_weights(te.dir)
                               ? census_checkpoint(io::Checkpoint::open(te.dir), qwen_part)
                               : census_qwen_config(d.text_encoder);
  d.transformer_weights = has_weights(tr.dir)
                              ? census_checkpoint(io::Checkpoint::open(tr.dir), dit_part)
                              : census_dit_config(d.transformer);
  d.vae_weights = has_weights(va.dir)
                      ? census_checkpoint(io::Checkpoint::open(va.dir),
                                          [](const std::string&) { return std::string("vae"); })
                      : census_vae_config(d.vae);
  const auto name_path = [](WeightCensus& census, const std::filesystem::path& path) {
    if (census.from_config) census.source += ": " + path.string();
  };
  name_path(d.text_encoder_weights, te.dir);
  name_path(d.transformer_weights, tr.dir);
  name_path(d.vae_weights, va.dir);
  return d;
}

const WorldStage& WorldPlan::stage(const std::string& name) const {
  for (const auto& s : stages) {
    if (s.name == name) return s;
  }
  DUOGEN_FAIL(InvalidArgument, "the world plan has no stage '{}'", name);
}

WorldPlan plan_world(const WorldDescription& model, const WorldPlanOptions& o) {
  const auto& dit = model.transformer;
  const auto& vae = model.vae;
  const auto& text = model.text_encoder.text;
  DUOGEN_CHECK(o.width > 0 && o.height > 0 && o.width % 16 == 0 && o.height % 16 == 0,
               InvalidArgument, "width and height must be positive multiples of 16, got {}x{}",
               o.width, o.height);
  DUOGEN_CHECK(o.frames >= 1, InvalidArgument, "frames must be at least 1, got {}", o.frames);
  DUOGEN_CHECK(o.max_sequence_length >= 1, InvalidArgument,
               "max_sequence_length must be positive, got {}", o.max_sequence_length);
  DUOGEN_CHECK(!o.vae_tiling || (o.tile > 0 && o.tile_stride > 0 && o.tile % 8 == 0 &&
                                 o.tile_stride % 8 == 0 && o.tile_stride <= o.tile),
               InvalidArgument,
               "VAE tiles of {} px every {} px: expected multiples of 8, stride "
               "<= tile",
               o.tile, o.tile_stride);

  WorldPlan plan;
  plan.options = o;
  const std::int64_t temporal = vae.scale_factor_temporal;
  const std::int64_t spatial = vae.scale_factor_spatial;
  plan.latent_frames = (o.frames - 1) / temporal + 1;
  plan.decoded_frames = 1 + temporal * (plan.latent_frames - 1);
  plan.latent_height = o.height / spatial;
  plan.latent_width = o.width / spatial;
  const ImageSize size{o.width, o.height};
  plan.dit_tokens = plan.latent_frames * dit_frame_tokens(dit, size);
  // The RoPE tables the network was trained with bound the video (Rope3D::tables).
  const std::int64_t max_t = dit.max_size[0] / dit.patch_size[0];
  DUOGEN_CHECK(plan.latent_frames <= max_t, InvalidArgument,
               "frames {}: {} latent frames exceed the transformer's {} (max_size[0]), i.e. at "
               "most {} frames",
               o.frames, plan.latent_frames, max_t, temporal * (max_t - 1) + 1);
  DUOGEN_CHECK(plan.latent_height <= dit.max_size[1] && plan.latent_width <= dit.max_size[2],
               InvalidArgument,
               "{}x{}: latent {}x{} exceeds the transformer's RoPE range {}x{} (max_size), i.e. at "
               "most {}x{} pixels",
               o.width, o.height, plan.latent_width, plan.latent_height, dit.max_size[2],
               dit.max_size[1], dit.max_size[2] * spatial, dit.max_size[1] * spatial);

  const u64 b = c10::elementSize(o.dtype);
  const auto bi = static_cast<std::int64_t>(b);
  const AttentionPath path{o.cpu};
  const std::int64_t n = o.max_sequence_length;
  plan.branches = o.cfg ? 2 : 1;
  const u64 branches = u(plan.branches);
  // One prompt's embeddings [1, L, layers * hidden] in the text encoder's dtype.
  const u64 embedding = u(n) * u(text.num_hidden_layers) * u(text.hidden_size) * b;
  // One fp32 latent video [1, 16, T', h, w].
  const u64 latent = u(dit.out_channels) * u(plan.latent_frames) * u(plan.latent_height) *
                     u(plan.latent_width) * 4;

  // Text encoder: the language model only (PromptEncoder loads neither `visual.*` nor lm_head).
  WorldStage te;
  te.name = "text_encoder";
  te.source = model.text_encoder_weights.source;
  te.parameters = part_parameters(model.text_encoder_weights, "text");
  te.weights = model.text_encoder_weights.part_bytes("text", o.dtype);
  te.weight_parts = {{"language_model", te.weights}};
  std::vector<std::string> left_out;
  for (const auto& [part, what] : {std::pair{"vision", "visual.*"}, std::pair{"head", "lm_head"}}) {
    const std::int64_t count = part_parameters(model.text_encoder_weights, part);
    if (count == 0) continue;
    left_out.push_back(
        fmt::format("{} ({} parameters, {})", what, human_count(count),
                    format_bytes(model.text_encoder_weights.part_bytes(part, o.dtype))));
  }
  if (!left_out.empty()) {
    te.note = fmt::format(
        "not loaded (the text conditioning reads the language model's hidden states only): {}",
        fmt::join(left_out, ", "));
  }
  const u64 kv = text_encoder_kv_cache_bytes(text, n, bi);
  const u64 pass = text_encoder_pass_bytes(text, n, bi, path);
  te.working_parts = {{"kv_cache", kv}, {"encode_pass", pass}};
  // With CFG the prompt's embeddings wait while the negative prompt is encoded.
  te.held_parts = {{"prompt_embeddings", (branches - 1) * embedding}};

  // Transformer: every branch's prepared context (connector output [1, L, E] + each block's
  // context k/v), and with CFG the two stacked into one varlen context (k/v only): all three
  // are locals of WorldPipeline::run and live to its end.
  WorldStage tr;
  tr.name = "transformer";
  tr.source = model.transformer_weights.source;
  tr.parameters = model.transformer_weights.parameters();
  tr.weights = model.transformer_weights.bytes(o.dtype);
  for (const char* part : {"dit", "connector"}) {
    tr.weight_parts.emplace_back(part, model.transformer_weights.part_bytes(part, o.dtype));
  }
  const u64 connector_out =
      u(n) *
      u(dit.use_crossattn_projection ? dit.encoder_hidden_states_channels : dit.text_embed_dim) * b;
  const u64 one_context = dit_context_cache_bytes(dit, n, 1, bi);
  const u64 contexts =
      branches * one_context +
      (branches > 1 ? dit_context_cache_bytes(dit, n, plan.branches, bi) - branches * connector_out
                    : 0);
  // The connector pass of one branch: the projection and its GELU, 2 * L * E * b (its input is
  // the kept prompt embedding).
  const u64 connector = 2 * connector_out;
  const std::vector<ImageSize> frames(static_cast<std::size_t>(plan.latent_frames), size);
  const u64 step = dit_step_bytes(dit, frames, n, plan.branches, bi, path);
  const u64 rope = dit_rope_table_bytes(dit, plan.dit_tokens);
  // Fixed for the run: x_T, the condition latents and the condition frames' velocity.
  const u64 state = 3 * latent;
  tr.working_parts = {{"contexts", contexts},
                      {"denoise_state", state},
                      {"connector", connector},
                      {"step", step},
                      {"rope_tables", rope}};
  tr.held_parts = {{"prompt_embeddings", branches * embedding}};

  // VAE decode. Its input: the denormalised latents in the VAE dtype and post_quant_conv's
  // output, 2 * [1, 16, T', h, w] * b; the decoded frames [1, 3, 1 + 4 (T' - 1), H, W] * b are
  // collected on the device, then concatenated and clamped (two copies).
  WorldStage va;
  va.name = "vae";
  va.source = model.vae_weights.source;
  va.parameters = model.vae_weights.parameters();
  va.weights = model.vae_weights.bytes(o.dtype);
  va.weight_parts = {{"encoder_decoder", va.weights}};
  const u64 pixels = u(o.width) * u(o.height);
  const u64 decoded = 3 * u(plan.decoded_frames) * pixels * b;
  const u64 latent_in = 2 * (latent / 4) * b;
  const std::int64_t tile_latent = o.tile / spatial;
  const bool tiled =
      o.vae_tiling && (plan.latent_height > tile_latent || plan.latent_width > tile_latent);
  plan.vae_tiled = tiled;
  u64 decode = 0;
  u64 output = 2 * decoded;
  if (!tiled) {
    if (plan.latent_frames == 1) {
      // The single-image 2D path (includes its output image).
      decode = vae_decode_bytes(vae, size, bi, path);
    } else {
      // The cache, the widest chunk, and the frames decoded so far (at most all of them).
      decode = vae_feature_cache_bytes(vae, size, bi) +
               vae_decode_chunk_bytes(vae, size, bi, path) + decoded;
    }
    va.working_parts = {{"latent_input", latent_in}, {"decode", decode}, {"output", output}};
  } else {
    // Tiles of tile x tile pixels every tile_stride (the last ones cut at the edge), each decoded
    // over all frames and kept until the mosaic is blended: sum of the tiles' areas *
    // 3 * decoded frames * b. The widest tile is a full one.
    const std::int64_t stride_latent = o.tile_stride / spatial;
    u64 tile_area = 0;
    for (std::int64_t i = 0; i < plan.latent_height; i += stride_latent) {
      for (std::int64_t j = 0; j < plan.latent_width; j += stride_latent) {
        tile_area += u(std::min(tile_latent, plan.latent_height - i) * spatial) *
                     u(std::min(tile_latent, plan.latent_width - j) * spatial);
      }
    }
    const u64 tiles = 3 * u(plan.decoded_frames) * tile_area * b;
    const ImageSize tile{std::min(o.tile, o.width), std::min(o.tile, o.height)};
    const u64 one_tile = plan.latent_frames == 1 ? vae_decode_bytes(vae, tile, bi, path)
                                                 : vae_feature_cache_bytes(vae, tile, bi) +
                                                       vae_decode_chunk_bytes(vae, tile, bi, path);
    decode = one_tile + tiles;
    // Blending: the tiles, the rows cut and concatenated, and the mosaic (then the clamp).
    output = std::max(tiles + decoded, 2 * decoded);
    va.working_parts = {{"latent_input", latent_in},
                        {"decode_tile", one_tile},
                        {"tiles", tiles},
                        {"output", output}};
  }
  u64 vae_working = latent_in + std::max(decode, output);

  // Host: the decode goes to the host as fp32; a frame count other than 1 + 4k goes through
  // diffusers' _match_num_frames (every frame repeated 4x, then cut: the repeated tensor is what
  // the result keeps). Then x / 2 + 0.5 and clamp (three fp32 copies alive at once), * 255 and
  // round (two more), the uint8 cast and its contiguous copy.
  const u64 frame_f32 = 3 * pixels * 4;
  const u64 video_dec = u(plan.decoded_frames) * frame_f32;
  const bool repeat = plan.decoded_frames != o.frames;
  plan.host_video = repeat ? 4 * video_dec : video_dec;
  plan.host_frames = u(o.frames) * pixels * 3;
  const u64 out_f32 = u(o.frames) * frame_f32;
  const u64 match = repeat ? video_dec + plan.host_video : video_dec;
  const u64 convert = plan.host_video + 3 * out_f32 + 2 * plan.host_frames;
  plan.host_peak = std::max(match, convert);
  if (o.cpu) {
    // One memory: the host side counts with the VAE stage (conservatively while the VAE is
    // still loaded; the uint8 conversion runs after it is dropped under sequential offload).
    const u64 to_host = (b == 4 ? 0 : decoded) + plan.host_peak;
    va.working_parts.emplace_back("host_output", to_host);
    vae_working = std::max(vae_working, to_host);
  }
  // The DiT's contexts end with the denoising stage (WorldPipeline::run scopes them to it).
  va.held_parts = {{"prompt_embeddings", branches * embedding}, {"latents", 4 * latent}};

  te.working = kv + pass;
  te.held = sum(te.held_parts);
  tr.working = contexts + state + std::max(connector, step + rope);
  tr.held = sum(tr.held_parts);
  va.working = vae_working;
  va.held = sum(va.held_parts);

  plan.stages = {std::move(te), std::move(tr), std::move(va)};
  u64 resident_extra = 0;
  u64 offload = 0;
  for (const auto& s : plan.stages) {
    plan.weights += s.weights;
    if (s.working + s.held > resident_extra) {
      resident_extra = s.working + s.held;
      plan.all_resident_stage = s.name;
    }
    if (s.offload_peak() > offload) {
      offload = s.offload_peak();
      plan.offload_peak_stage = s.name;
    }
  }
  plan.all_resident = plan.weights + resident_extra + o.reserve;
  plan.offload_peak = offload + o.reserve;
  return plan;
}

const char* to_string(WorldFit fit) {
  switch (fit) {
    case WorldFit::kResident:
      return "fits resident";
    case WorldFit::kSequentialOffload:
      return "fits only with --sequential-offload";
    case WorldFit::kResidentTiled:
      return "fits only with --vae-tiling";
    case WorldFit::kSequentialOffloadTiled:
      return "fits only with --sequential-offload --vae-tiling";
    case WorldFit::kNone:
      return "does not fit";
  }
  return "?";
}

const char* world_flags(WorldFit fit) {
  switch (fit) {
    case WorldFit::kResident:
      return "";
    case WorldFit::kSequentialOffload:
      return "--sequential-offload";
    case WorldFit::kResidentTiled:
      return "--vae-tiling";
    case WorldFit::kSequentialOffloadTiled:
      return "--sequential-offload --vae-tiling";
    case WorldFit::kNone:
      return "";
  }
  return "";
}

WorldVerdict judge_world_budget(const WorldDescription& model,
                                const WorldPlan& plan,
                                std::uint64_t budget) {
  WorldVerdict v;
  v.budget = budget;
  WorldPlanOptions o = plan.options;
  o.vae_tiling = false;
  const WorldPlan whole = plan_world(model, o);
  o.vae_tiling = true;
  const WorldPlan tiled = plan_world(model, o);
  v.modes = {{WorldFit::kResident, whole.all_resident, false},
             {WorldFit::kSequentialOffload, whole.offload_peak, false},
             {WorldFit::kResidentTiled, tiled.all_resident, false},
             {WorldFit::kSequentialOffloadTiled, tiled.offload_peak, false}};
  u64 smallest = v.modes.front().needed;
  for (auto& m : v.modes) {
    m.fits = m.needed <= budget;
    smallest = std::min(smallest, m.needed);
    if (m.fits && v.fit == WorldFit::kNone) {
      v.fit = m.mode;
      v.needed = m.needed;
    }
  }
  if (v.fit == WorldFit::kNone) {
    v.needed = smallest;
    v.shortfall = smallest - budget;
  } else {
    v.headroom = budget - v.needed;
  }
  return v;
}

namespace {

json parts_json(const ByteParts& list) {
  json j = json::object();
  for (const auto& [k, v] : list) j[k] = v;
  return j;
}

}  // namespace

json world_plan_to_json(const WorldPlan& plan, const std::optional<WorldVerdict>& verdict) {
  const auto& o = plan.options;
  json out;
  out["estimate"] = true;
  out["options"] = {{"width", o.width},
                    {"height", o.height},
                    {"frames", o.frames},
                    {"max_sequence_length", o.max_sequence_length},
                    {"cfg", o.cfg},
                    {"dtype", c10::toString(o.dtype)},
                    {"device", o.cpu ? "cpu" : "cuda"},
                    {"vae_tiling", o.vae_tiling},
                    {"vae_tile", o.tile},
                    {"vae_tile_stride", o.tile_stride},
                    {"reserve", o.reserve}};
  out["shapes"] = {{"latent", {1, 16, plan.latent_frames, plan.latent_height, plan.latent_width}},
                   {"latent_frames", plan.latent_frames},
                   {"decoded_frames", plan.decoded_frames},
                   {"dit_tokens", plan.dit_tokens},
                   {"vae_tiled", plan.vae_tiled},
                   {"cfg_branches", plan.branches},
                   {"prompt_embeddings", {plan.branches, o.max_sequence_length, -1}}};
  out["stages"] = json::array();
  for (const auto& s : plan.stages) {
    out["stages"].push_back({{"name", s.name},
                             {"source", s.source},
                             {"note", s.note},
                             {"parameters", s.parameters},
                             {"weights", s.weights},
                             {"weight_parts", parts_json(s.weight_parts)},
                             {"working", s.working},
                             {"working_parts", parts_json(s.working_parts)},
                             {"held", s.held},
                             {"held_parts", parts_json(s.held_parts)},
                             {"offload_peak", s.offload_peak()}});
  }
  out["host"] = {{"video", plan.host_video},
                 {"frames", plan.host_frames},
                 {"peak", plan.host_peak},
                 {"in_device_totals", o.cpu}};
  out["totals"] = {{"weights", plan.weights},
                   {"all_resident", plan.all_resident},
                   {"all_resident_stage", plan.all_resident_stage},
                   {"sequential_offload_peak", plan.offload_peak},
                   {"sequential_offload_stage", plan.offload_peak_stage}};
  if (verdict) {
    json modes = json::array();
    for (const auto& m : verdict->modes) {
      modes.push_back({{"mode", to_string(m.mode)},
                       {"flags", world_flags(m.mode)},
                       {"needed", m.needed},
                       {"fits", m.fits}});
    }
    out["verdict"] = {{"budget", verdict->budget},
                      {"fit", to_string(verdict->fit)},
                      {"flags", world_flags(verdict->fit)},
                      {"needed", verdict->needed},
                      {"headroom", verdict->headroom},
                      {"shortfall", verdict->shortfall},
                      {"modes", modes}};
  } else {
    out["verdict"] = nullptr;
  }
  return out;
}

std::string world_plan_to_text(const WorldPlan& plan, const std::optional<WorldVerdict>& verdict) {
  const auto& o = plan.options;
  std::string out = fmt::format(
      "memory plan (estimates of tensor bytes; allocator slack, CUDA context and library "
      "workspaces not counted)\n"
      "  {} {}x{}, {} frame(s) -> latent [1, 16, {}, {}, {}], DiT {} tokens, {} CFG "
      "branch(es){}; prompt {} tokens; {}, {}; VAE decode {}\n\n",
      o.frames == 1 ? "text -> image" : "text -> world", o.width, o.height, o.frames,
      plan.latent_frames, plan.latent_height, plan.latent_width, plan.dit_tokens, plan.branches,
      plan.branches > 1 ? " batched" : "", o.max_sequence_length, c10::toString(o.dtype),
      o.cpu ? "cpu" : "cuda",
      fmt::format("{}{}", plan.latent_frames > 1 ? "frame by frame" : "as one image",
                  plan.vae_tiled
                      ? fmt::format(", in {} px tiles every {} px", o.tile, o.tile_stride)
                  : o.vae_tiling ? fmt::format(" (one {} px tile holds it)", o.tile)
                                 : std::string()));
  out += fmt::format("  {:<13} {:>11} {:>12} {:>12} {:>12} {:>12}\n", "stage", "parameters",
                     "weights", "working", "held", "stage peak");
  for (const auto& s : plan.stages) {
    out += fmt::format("  {:<13} {:>11} {:>12} {:>12} {:>12} {:>12}\n", s.name,
                       human_count(s.parameters), format_bytes(s.weights), format_bytes(s.working),
                       format_bytes(s.held), format_bytes(s.offload_peak()));
    const auto detail = [&out](const char* what, const ByteParts& list) {
      std::string line;
      for (const auto& [k, v] : list) {
        if (v == 0) continue;
        line += fmt::format("{}{} {}", line.empty() ? "" : ", ", k, format_bytes(v));
      }
      if (!line.empty()) out += fmt::format("  {:<13}   {}: {}\n", "", what, line);
    };
    detail("weights", s.weight_parts);
    detail("working", s.working_parts);
    detail("held", s.held_parts);
    if (!s.note.empty()) out += fmt::format("  {:<13}   {}\n", "", s.note);
    out += fmt::format("  {:<13}   source: {}\n", "", s.source);
  }
  out += fmt::format("  {:<13}   video fp32 {} + frames uint8 {}; peak {} while converting{}\n",
                     "host", format_bytes(plan.host_video), format_bytes(plan.host_frames),
                     format_bytes(plan.host_peak),
                     o.cpu ? " (counted in the vae stage: host and device are one memory)" : "");
  const std::string reserve =
      o.reserve > 0 ? fmt::format(" + reserve {}", format_bytes(o.reserve)) : "";
  const WorldStage& widest = plan.stage(plan.all_resident_stage);
  out += fmt::format("\n  all resident:        {} (weights {} + {} working {} + held {}{})\n",
                     format_bytes(plan.all_resident), format_bytes(plan.weights), widest.name,
                     format_bytes(widest.working), format_bytes(widest.held), reserve);
  const WorldStage& peak = plan.stage(plan.offload_peak_stage);
  out += fmt::format("  sequential offload:  {} ({}: weights {} + working {} + held {}{})\n",
                     format_bytes(plan.offload_peak), peak.name, format_bytes(peak.weights),
                     format_bytes(peak.working), format_bytes(peak.held), reserve);
  if (verdict) {
    out += fmt::format("\n  budget {}: {}", format_bytes(verdict->budget), to_string(verdict->fit));
    if (verdict->fit == WorldFit::kNone) {
      out += fmt::format(" (short by {}; the smallest mode needs {})\n",
                         format_bytes(verdict->shortfall), format_bytes(verdict->needed));
    } else {
      out += fmt::format(" (needs {}, headroom {})\n", format_bytes(verdict->needed),
                         format_bytes(verdict->headroom));
    }
    for (const auto& m : verdict->modes) {
      const std::string flags = world_flags(m.mode);
      out += fmt::format("    {:<36} {:>12}  {}\n", flags.empty() ? "resident" : flags,
                         format_bytes(m.needed), m.fits ? "fits" : "does not fit");
    }
  }
  return out;
}

}  // namespace duogen::runtime
