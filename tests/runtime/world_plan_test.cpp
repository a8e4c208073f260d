// The world pipeline's memory plan (runtime/world_plan.h): on the tiny Cosmos-Predict2.5 snapshot
// (weights against sums taken here from the safetensors headers, visual.* left out; scaling with
// frames; verdicts against budgets; sharded diffusers weights; a missing component), and on a
// config-only description of the published Cosmos-Predict2.5-2B + Cosmos-Reason1-7B pipeline,
// every number recomputed here from the config numbers with the formula written out.
#include "runtime/world_plan.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/pipeline_snapshot.h"
#include "io/safetensors.h"
#include "runtime/byte_size.h"
#include "runtime/runtime_fixtures.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using u64 = std::uint64_t;

fs::path tiny_snapshot() { return testing::data_dir() / "tiny-cosmos2_5"; }

struct HeaderSum {
  u64 bytes = 0;
  std::int64_t parameters = 0;
  u64 visual_bytes = 0;
  std::int64_t visual_parameters = 0;
  u64 head_bytes = 0;  // an untied lm_head.weight
};

// Sums every tensor of every .safetensors file in `dir`, floating ones at `float_bytes` each.
HeaderSum header_sum(const fs::path& dir, std::size_t float_bytes) {
  HeaderSum s;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    const auto file = io::SafetensorsFile::open(entry.path());
    for (const auto& t : file.tensors()) {
      const u64 b = static_cast<u64>(t.numel()) *
                    (is_floating(t.dtype) ? float_bytes : element_size(t.dtype));
      if (t.name.starts_with("visual.") || t.name.starts_with("model.visual.")) {
        s.visual_bytes += b;
        s.visual_parameters += t.numel();
      } else if (t.name == "lm_head.weight") {
        s.head_bytes += b;
      } else {
        s.bytes += b;
        s.parameters += t.numel();
      }
    }
  }
  return s;
}

class TinyWorldPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new WorldDescription(describe_snapshot(io::read_pipeline_snapshot(tiny_snapshot())));
  }
  static void TearDownTestSuite() { delete model_; }
  static WorldPlanOptions options(std::int64_t frames = 9) {
    WorldPlanOptions o;
    o.width = 320;
    o.height = 192;
    o.frames = frames;
    o.max_sequence_length = 64;
    return o;
  }
  static WorldDescription* model_;
};
WorldDescription* TinyWorldPlan::model_ = nullptr;

TEST_F(TinyWorldPlan, WeightsEqualTheSafetensorsHeadersWithoutTheVisionTower) {
  for (const auto& [dtype, bytes] : {std::pair{c10::kBFloat16, 2}, std::pair{c10::kFloat, 4}}) {
    WorldPlanOptions o = options();
    o.dtype = dtype;
    const WorldPlan plan = plan_world(*model_, o);
    const auto te = header_sum(tiny_snapshot() / "text_encoder", bytes);
    const auto dit = header_sum(tiny_snapshot() / "transformer", bytes);
    const auto vae = header_sum(tiny_snapshot() / "vae", bytes);
    ASSERT_GT(te.visual_bytes, 0u);
    EXPECT_EQ(plan.stage("text_encoder").weights, te.bytes);
    EXPECT_EQ(plan.stage("text_encoder").parameters, te.parameters);
    ASSERT_GT(te.head_bytes, 0u);  // the tiny text encoder is untied, like Reason1-7B
    EXPECT_EQ(plan.stage("transformer").weights, dit.bytes + dit.visual_bytes);
    EXPECT_EQ(plan.stage("vae").weights, vae.bytes + vae.visual_bytes);
    EXPECT_EQ(plan.weights, te.bytes + dit.bytes + vae.bytes);
    // The vision tower and the output head are reported as left out, with their sizes.
    const std::string& note = plan.stage("text_encoder").note;
    EXPECT_NE(note.find("not loaded"), std::string::npos) << note;
    EXPECT_NE(note.find("visual.* ("), std::string::npos) << note;
    EXPECT_NE(note.find(format_bytes(te.visual_bytes)), std::string::npos) << note;
    EXPECT_NE(note.find("lm_head ("), std::string::npos) << note;
    EXPECT_NE(note.find(format_bytes(te.head_bytes)), std::string::npos) << note;
  }
  EXPECT_NE(model_->transformer_weights.source.find("checkpoint headers"), std::string::npos);
}

TEST_F(TinyWorldPlan, ConfigOnlyCensusMatchesTheSnapshot) {
  // The real case is counted from configs: on the tiny snapshot (saved by transformers and
  // diffusers themselves) the config-only census must give the headers' numbers.
  const WorldDescription configs =
      describe_world_configs(model_->text_encoder, model_->transformer, model_->vae);
  for (auto dtype : {c10::kBFloat16, c10::kFloat}) {
    EXPECT_EQ(configs.text_encoder_weights.part_bytes("text", dtype),
              model_->text_encoder_weights.part_bytes("text", dtype));
    EXPECT_EQ(configs.text_encoder_weights.part_bytes("vision", dtype),
              model_->text_encoder_weights.part_bytes("vision", dtype));
    EXPECT_EQ(configs.transformer_weights.bytes(dtype), model_->transformer_weights.bytes(dtype));
    EXPECT_EQ(configs.transformer_weights.part_bytes("connector", dtype),
              model_->transformer_weights.part_bytes("connector", dtype));
    EXPECT_EQ(configs.vae_weights.bytes(dtype), model_->vae_weights.bytes(dtype));
  }
}

TEST_F(TinyWorldPlan, ShapesFollowTheRequest) {
  const WorldPlan plan = plan_world(*model_, options(9));
  EXPECT_EQ(plan.latent_frames, 3);  // (9 - 1) / 4 + 1
  EXPECT_EQ(plan.decoded_frames, 9);
  EXPECT_EQ(plan.latent_height, 24);
  EXPECT_EQ(plan.latent_width, 40);
  EXPECT_EQ(plan.dit_tokens, 3 * (192 / 16) * (320 / 16));
  EXPECT_EQ(plan.branches, 2);
  // 10 frames: 3 latent frames decode to 9, which _match_num_frames repeats 4x and cuts to 10;
  // the repeated tensor is what the result keeps.
  const WorldPlan ten = plan_world(*model_, options(10));
  EXPECT_EQ(ten.latent_frames, 3);
  EXPECT_EQ(ten.host_video, 4 * 9 * 3 * 320 * 192 * 4u);
  EXPECT_EQ(ten.host_frames, 10 * 320 * 192 * 3u);
}

TEST_F(TinyWorldPlan, DitWorkingSetScalesWithFrames) {
  std::uint64_t last_step = 0;
  std::uint64_t last_working = 0;
  std::int64_t last_tokens = 0;
  for (std::int64_t frames : {1, 5, 9, 17, 33}) {
    const WorldPlan plan = plan_world(*model_, options(frames));
    const WorldStage& dit = plan.stage("transformer");
    const std::uint64_t step = dit.working_parts.at(3).second;
    ASSERT_EQ(dit.working_parts.at(3).first, "step");
    EXPECT_GT(step, last_step) << frames;
    EXPECT_GT(dit.working, last_working) << frames;
    EXPECT_GT(plan.dit_tokens, last_tokens) << frames;
    last_step = step;
    last_working = dit.working;
    last_tokens = plan.dit_tokens;
    // Weights and the text encoder's pass do not depend on the video.
    EXPECT_EQ(plan.weights, plan_world(*model_, options(1)).weights);
    EXPECT_EQ(plan.stage("text_encoder").working,
              plan_world(*model_, options(1)).stage("text_encoder").working);
  }
  // On the GPU path every DiT term is linear in the tokens: 33 frames (9 latent) is 9x one frame
  // up to the per-prompt parts (contexts, connector) that do not grow.
  const auto step_of = [&](std::int64_t frames) {
    return plan_world(*model_, options(frames)).stage("transformer").working_parts.at(3).second;
  };
  EXPECT_EQ(step_of(33), 9 * step_of(1));
}

TEST_F(TinyWorldPlan, CpuAttentionAddsTheScoreMatrix) {
  WorldPlanOptions o = options(9);
  const WorldPlan gpu = plan_world(*model_, o);
  o.cpu = true;
  const WorldPlan cpu = plan_world(*model_, o);
  const u64 s = static_cast<u64>(gpu.dit_tokens);
  const u64 heads = static_cast<u64>(model_->transformer.num_attention_heads);
  EXPECT_GE(cpu.stage("transformer").working,
            gpu.stage("transformer").working + 2 * heads * s * s * 4);
  EXPECT_GT(cpu.stage("text_encoder").working, gpu.stage("text_encoder").working);
  EXPECT_EQ(cpu.weights, gpu.weights);
}

TEST_F(TinyWorldPlan, GuidanceOffRunsOneBranch) {
  WorldPlanOptions o = options();
  const WorldPlan cfg = plan_world(*model_, o);
  o.cfg = false;
  const WorldPlan one = plan_world(*model_, o);
  EXPECT_EQ(one.branches, 1);
  EXPECT_EQ(one.stage("text_encoder").held, 0u);  // no negative prompt to wait for
  EXPECT_EQ(2 * one.stage("transformer").held, cfg.stage("transformer").held);
  EXPECT_LT(one.stage("transformer").working, cfg.stage("transformer").working);
}

TEST_F(TinyWorldPlan, TotalsAndVerdicts) {
  const WorldPlan plan = plan_world(*model_, options(17));
  u64 weights = 0;
  u64 widest = 0;
  u64 peak = 0;
  for (const auto& s : plan.stages) {
    weights += s.weights;
    widest = std::max(widest, s.working + s.held);
    peak = std::max(peak, s.weights + s.working + s.held);
  }
  EXPECT_EQ(plan.weights, weights);
  EXPECT_EQ(plan.all_resident, weights + widest);
  EXPECT_EQ(plan.offload_peak, peak);
  ASSERT_LT(plan.offload_peak, plan.all_resident);

  const auto resident = judge_world_budget(*model_, plan, plan.all_resident);
  EXPECT_EQ(resident.fit, WorldFit::kResident);
  EXPECT_EQ(resident.headroom, 0u);
  ASSERT_EQ(resident.modes.size(), 4u);
  const auto offload = judge_world_budget(*model_, plan, plan.all_resident - 1);
  EXPECT_NE(offload.fit, WorldFit::kResident);
  EXPECT_NE(offload.fit, WorldFit::kNone);
  u64 smallest = plan.all_resident;
  for (const auto& m : offload.modes) smallest = std::min(smallest, m.needed);
  const auto none = judge_world_budget(*model_, plan, smallest - 1000);
  EXPECT_EQ(none.fit, WorldFit::kNone);
  EXPECT_EQ(none.shortfall, 1000u);
  EXPECT_EQ(none.needed, smallest);
  for (const auto& m : none.modes) EXPECT_FALSE(m.fits);

  WorldPlanOptions o = options(17);
  o.reserve = 12345;
  const WorldPlan reserved = plan_world(*model_, o);
  EXPECT_EQ(reserved.all_resident, plan.all_resident + 12345);
  EXPECT_EQ(reserved.offload_peak, plan.offload_peak + 12345);
}

TEST_F(TinyWorldPlan, RejectsBadRequests) {
  for (auto change : std::vector<void (*)(WorldPlanOptions&)>{
           [](WorldPlanOptions& o) { o.width = 328; },  // not a multiple of 16
           [](WorldPlanOptions& o) { o.height = 0; }, [](WorldPlanOptions& o) { o.frames = 0; },
           [](WorldPlanOptions& o) { o.max_sequence_length = 0; },
           [](WorldPlanOptions& o) { o.frames = 4 * 128 + 1; },  // 129 latent frames > 128
           [](WorldPlanOptions& o) { o.width = 16 * 8 * 121; }}) {
    WorldPlanOptions o = options();
    change(o);
    EXPECT_THROW(plan_world(*model_, o), InvalidArgument);
  }
}

TEST(WorldSnapshot, ShardedDiffusersWeightsCountTheSame) {
  // The transformer's tensors split over two shards with diffusers' index name.
  const fs::path root = testing::make_temp_dir("world-plan-sharded");
  fs::copy(tiny_snapshot(), root, fs::copy_options::recursive);
  const fs::path dir = root / "transformer";
  const auto file = io::SafetensorsFile::open(dir / "diffusion_pytorch_model.safetensors");
  std::vector<testing::Shard> shards = {{"diffusion_pytorch_model-00001-of-00002.safetensors", {}},
                                        {"diffusion_pytorch_model-00002-of-00002.safetensors", {}}};
  std::size_t i = 0;
  for (const auto& t : file.tensors()) {
    shards[i++ % 2].tensors.emplace_back(t.name, file.tensor(t.name).clone());
  }
  fs::remove(dir / "diffusion_pytorch_model.safetensors");
  testing::write_checkpoint(dir, shards, /*with_index=*/true);
  fs::rename(dir / "model.safetensors.index.json",
             dir / "diffusion_pytorch_model.safetensors.index.json");
  const auto sharded = describe_snapshot(io::read_pipeline_snapshot(root));
  const auto single = describe_snapshot(io::read_pipeline_snapshot(tiny_snapshot()));
  EXPECT_EQ(sharded.transformer_weights.bytes(c10::kBFloat16),
            single.transformer_weights.bytes(c10::kBFloat16));
  EXPECT_EQ(sharded.transformer_weights.parameters(), single.transformer_weights.parameters());
  fs::remove_all(root);
}

TEST(WorldSnapshot, AMissingComponentNamesModelIndex) {
  const fs::path root = testing::make_temp_dir("world-plan-missing");
  fs::copy(tiny_snapshot(), root, fs::copy_options::recursive);
  json index;
  {
    std::ifstream in(root / "model_index.json");
    index = json::parse(in);
  }
  index.erase("vae");
  {
    std::ofstream out(root / "model_index.json");
    out << index.dump(2);
  }
  try {
    describe_snapshot(io::read_pipeline_snapshot(root));
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model_index.json"), std::string::npos) << what;
    EXPECT_NE(what.find("'vae'"), std::string::npos) << what;
  }
  fs::remove_all(root);
}

// The published pipeline, from its configs: Cosmos-Reason1-7B (Qwen2.5-VL-7B shapes) as the
// text encoder, the Cosmos-Predict2.5-2B DiT with its connector, the Wan2.1 VAE; 93 frames of
// 1280x704 in bf16 on CUDA, 512 prompt tokens, CFG. Every number below is recomputed from the
// config numbers with the formula written next to it (activations.cpp states the same ones).
class RealWorldPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new WorldDescription(
        describe_snapshot(io::read_pipeline_snapshot(testing::real_snapshot_dir())));
  }
  static void TearDownTestSuite() { delete model_; }
  static WorldDescription* model_;
};
WorldDescription* RealWorldPlan::model_ = nullptr;

// Config numbers (architecture.md §5.1, §8.1, §11.1).
constexpr u64 kV = 152064, kH = 3584, kI = 18944, kL = 28, kNq = 28, kNkv = 4, kHd = kH / kNq;
constexpr u64 kD = 16 * 128, kBlocks = 28, kHeads = 16, kM = 4 * kD, kCtxIn = 100352, kCtx = 1024,
              kLora = 256, kPatchIn = 18 * 4, kPatchOut = 16 * 4;
constexpr u64 kB = 2;  // bf16

// Wan2.1 VAE parameters, §11.3 (diffusers names): 3x3x3 causal convs, 1x1x1 convs, RMS_norm
// gammas, single-head attention, 2D resample convs, temporal convs (3, 1, 1).
u64 conv3(u64 in, u64 out) { return out * in * 27 + out; }
u64 conv1(u64 in, u64 out) { return out * in + out; }
u64 conv2d3(u64 in, u64 out) { return out * in * 9 + out; }
u64 time_conv(u64 in, u64 out) { return out * in * 3 + out; }
u64 res(u64 in, u64 out) {
  return in + conv3(in, out) + out + conv3(out, out) + (in != out ? conv1(in, out) : 0);
}
u64 attn(u64 c) { return c + 3 * c * c + 3 * c + c * c + c; }

u64 wan_vae_parameters() {
  const u64 encoder = conv3(3, 96) + 2 * res(96, 96) + conv2d3(96, 96) + res(96, 192) +
                      res(192, 192) + conv2d3(192, 192) + time_conv(192, 192) + res(192, 384) +
                      res(384, 384) + conv2d3(384, 384) + time_conv(384, 384) + 2 * res(384, 384) +
                      2 * res(384, 384) + attn(384) + 384 + conv3(384, 32) + conv1(32, 32);
  const u64 decoder = conv1(16, 16) + conv3(16, 384) + 2 * res(384, 384) + attn(384) +
                      3 * res(384, 384) + conv2d3(384, 192) + time_conv(384, 768) + res(192, 384) +
                      2 * res(384, 384) + conv2d3(384, 192) + time_conv(384, 768) +
                      3 * res(192, 192) + conv2d3(192, 96) + 3 * res(96, 96) + 96 + conv3(96, 3);
  return encoder + decoder;
}

TEST_F(RealWorldPlan, WeightsFromTheConfigNumbers) {
  ASSERT_TRUE(model_->text_encoder_weights.from_config);
  WorldPlanOptions o;
  const WorldPlan plan = plan_world(*model_, o);
  // Language model: embedding V*H; per layer q (H*H + H), k and v (H * kv*d + kv*d each),
  // o (H*H), gate/up/down 3*H*I, two RMSNorms 2H; final norm H. The untied lm_head (V*H) is not
  // loaded by the text conditioning.
  const u64 kv_width = kNkv * kHd;
  const u64 text =
      kV * kH +
      kL * (kH * kH + kH + 2 * (kH * kv_width + kv_width) + kH * kH + 3 * kH * kI + 2 * kH) + kH;
  EXPECT_EQ(plan.stage("text_encoder").parameters, static_cast<std::int64_t>(text));
  EXPECT_EQ(plan.stage("text_encoder").weights, kB * text);
  // DiT (§12.3): patch embedding 72 -> D; t_embedder D*D + 3D*D and its norm D; crossattn_proj
  // 100352 -> 1024 with bias; per block three adaLN-LoRA pairs (D*256 + 256*3D), self-attention
  // 4 D*D + q/k norms 2*128, cross-attention 2 D*D + 2 D*1024 + 2*128, MLP 2 D*M; final layer's
  // adaLN (D*256 + 256*2D) and linear D -> 64.
  const u64 block = 3 * (kD * kLora + kLora * 3 * kD) + 4 * kD * kD + 2 * 128 + 2 * kD * kD +
                    2 * kD * kCtx + 2 * 128 + 2 * kD * kM;
  const u64 connector = kCtx * kCtxIn + kCtx;
  const u64 dit = kPatchIn * kD + kD * kD + 3 * kD * kD + kD + connector + kBlocks * block +
                  (kD * kLora + kLora * 2 * kD) + kPatchOut * kD;
  EXPECT_EQ(plan.stage("transformer").parameters, static_cast<std::int64_t>(dit));
  EXPECT_EQ(plan.stage("transformer").weights, kB * dit);
  EXPECT_EQ(plan.stage("transformer").weight_parts.at(1).second, kB * connector);
  EXPECT_NEAR(static_cast<double>(dit), 2.059e9, 0.0005e9);  // the published 2.059B
  EXPECT_EQ(plan.stage("vae").parameters, static_cast<std::int64_t>(wan_vae_parameters()));
  EXPECT_EQ(plan.stage("vae").weights, kB * wan_vae_parameters());
}

TEST_F(RealWorldPlan, WorkingSetsFromTheConfigNumbers) {
  WorldPlanOptions o;  // 1280x704, 93 frames, 512 tokens, CFG, bf16, cuda
  const WorldPlan plan = plan_world(*model_, o);
  const u64 n = 512, frames = 93, h = 704 / 8, w = 1280 / 8;
  const u64 t = (frames - 1) / 4 + 1;          // 24 latent frames
  const u64 s = t * (704 / 16) * (1280 / 16);  // 84480 DiT tokens
  const u64 branches = 2, bs = branches * s;
  const u64 latent = 16 * t * h * w * 4;   // one fp32 latent video
  const u64 embedding = n * kL * kH * kB;  // one prompt's [1, 512, 100352]
  EXPECT_EQ(plan.latent_frames, 24);
  EXPECT_EQ(plan.dit_tokens, 84480);

  // Text encoder: KV cache (capacity 512, a multiple of the 256-token growth chunk); the pass:
  // prefill (residual + norm 2NHb, max(attention, MLP), no logits) + the captured states
  // (L+1)NHb, their stacking 2 (L+1)NHb, or the fp32 normalisation (L+1)NHb + LNH(3*4 + b).
  const u64 kv = kL * 2 * kNkv * kHd * n * kB;
  const u64 attention = n * (kNq + 2 * kNkv) * kHd * kB + n * (kNq + kNkv) * kHd * kB +
                        n * kNq * kHd * kB + n * kH * kB;
  const u64 mlp = 3 * kI * n * kB + n * kH * kB;
  const u64 captured = (kL + 1) * n * kH * kB;
  const u64 pass = std::max({2 * n * kH * kB + std::max(attention, mlp) + captured, 2 * captured,
                             captured + kL * n * kH * (3 * 4 + kB)});
  const WorldStage& te = plan.stage("text_encoder");
  EXPECT_EQ(te.working, kv + pass);
  EXPECT_EQ(te.held, embedding);  // the prompt's, while the negative prompt is encoded

  // Transformer: contexts (per branch the connector output L*1024*b + 28 blocks' k and v
  // 2*28*L*D*b; the stacked pair without the connector output); fixed fp32 latents x_T,
  // condition, its velocity; the step: residual + LN + modulation 5 BSDb + max(self-attention
  // 3BSDb + 2BSD*4 + 2BSDb, cross 3BSDb, MLP 2BSMb + BSDb, final 2BSD*4 + BS*64*4) + the
  // sampler (2B + 3) latents; RoPE cos/sin 2 S*128*4.
  const u64 context = n * kCtx * kB + 2 * kBlocks * n * kD * kB;
  const u64 contexts = 2 * context + 2 * (2 * kBlocks * n * kD * kB);
  const u64 step =
      5 * bs * kD * kB +
      std::max({3 * bs * kD * kB + 2 * bs * kD * 4 + 2 * bs * kD * kB, 3 * bs * kD * kB,
                2 * bs * kM * kB + bs * kD * kB, 2 * bs * kD * 4 + bs * kPatchOut * 4}) +
      (2 * branches + 3) * latent;
  const u64 rope = 2 * s * 128 * 4;
  const WorldStage& dit = plan.stage("transformer");
  EXPECT_EQ(dit.working, contexts + 3 * latent + std::max(2 * n * kCtx * kB, step + rope));
  EXPECT_EQ(dit.held, 2 * embedding);

  // VAE: stage pixels P0 = h*w .. P3 = 64 P0 (widths 384, 384, 192, 96 after the upsamplers).
  // Cache: 2 frames * b of every cached conv input (conv_in 16 ch; middle 4 x 384; stage 0
  // 3 blocks x (384 + 384) + time_conv 384; stage 1 (192 + 384) + 2 (384 + 384) + time_conv
  // 384; stage 2 3 x (192 + 192); stage 3 3 x (96 + 96) + conv_out 96).
  const u64 p0 = h * w, p1 = 4 * p0, p2 = 16 * p0, p3 = 64 * p0;
  const u64 cache = 2 * kB *
                    (16 * p0 + 4 * 384 * p0 + p0 * 3 * (384 + 384) + 384 * p0 +
                     p1 * ((192 + 384) + 2 * (384 + 384)) + 384 * p1 + p2 * 3 * (192 + 192) +
                     p3 * 3 * (96 + 96) + 96 * p3);
  // The widest chunk: 1 latent frame -> 2 frames after stage 0's time_conv -> 4 after stage 1's.
  // Residual block (C_in, C_out) on T frames at P: T P (C_in b + 2 C 4 + 2 C b) + (T + 2) P C b.
  const auto res_block = [](u64 c_in, u64 c_out, u64 frames_in, u64 p) {
    const u64 c = std::max(c_in, c_out);
    return frames_in * p * (c_in * kB + 2 * c * 4 + 2 * c * kB) + (frames_in + 2) * p * c * kB;
  };
  const auto spatial_up = [](u64 frames_in, u64 p, u64 c) {
    return frames_in * (p * c * (kB + 4) + 4 * p * c * 4);
  };
  const auto time_up = [](u64 frames_in, u64 p, u64 c) {
    return frames_in * p * c * kB + (frames_in + 2) * p * c * kB + 4 * c * frames_in * p * kB;
  };
  const u64 mid_attention = p0 * 384 * kB * 5;
  const u64 chunk =
      std::max({3 * 16 * p0 * kB + 384 * p0 * kB, res_block(384, 384, 1, p0), mid_attention,
                time_up(1, p0, 384), spatial_up(2, p0, 384), res_block(192, 384, 2, p1),
                res_block(384, 384, 2, p1), time_up(2, p1, 384), spatial_up(4, p1, 384),
                res_block(192, 192, 4, p2), spatial_up(4, p2, 192), res_block(96, 96, 4, p3)}) +
      3 * 4 * p3 * kB;
  const u64 decoded = 3 * frames * 704 * 1280 * kB;  // 1 + 4 * 23 = 93 frames decoded
  const u64 latent_in = 2 * 16 * t * h * w * kB;
  const WorldStage& vae = plan.stage("vae");
  EXPECT_EQ(vae.working, latent_in + std::max(cache + chunk + decoded, 2 * decoded));
  EXPECT_EQ(vae.held, 2 * embedding + 4 * latent);  // the DiT contexts end with its stage

  // Host: the fp32 video and the uint8 frames.
  EXPECT_EQ(plan.host_video, 3 * frames * 704 * 1280 * 4);
  EXPECT_EQ(plan.host_frames, frames * 704 * 1280 * 3);

  // Totals.
  const u64 weights = te.weights + dit.weights + vae.weights;
  EXPECT_EQ(plan.all_resident, weights + std::max({te.working + te.held, dit.working + dit.held,
                                                   vae.working + vae.held}));
  EXPECT_EQ(plan.offload_peak,
            std::max({te.weights + te.working + te.held, dit.weights + dit.working + dit.held,
                      vae.weights + vae.working + vae.held}));

  // 24 GB = 24e9 bytes = 22.35 GiB: 17.3 GiB of bf16 weights (no lm_head) plus a ~10 GiB working
  // set do not fit at once; one model at a time does (the text encoder's stage is the peak).
  const auto verdict = judge_world_budget(*model_, plan, parse_byte_size("24GB"));
  EXPECT_GT(plan.all_resident, parse_byte_size("24GB"));
  EXPECT_EQ(verdict.fit, WorldFit::kSequentialOffload);
  EXPECT_EQ(verdict.needed, plan.offload_peak);
  EXPECT_EQ(plan.offload_peak_stage, "text_encoder");
  // Tiling does not make it fit resident: the DiT's working set alone is ~9.7 GiB.
  EXPECT_FALSE(verdict.modes.at(2).fits);
  EXPECT_TRUE(verdict.modes.at(3).fits);
}

TEST_F(RealWorldPlan, TilingBoundsTheDecodeByTheTile) {
  WorldPlanOptions o;
  const WorldPlan whole = plan_world(*model_, o);
  o.vae_tiling = true;
  const WorldPlan tiled = plan_world(*model_, o);
  EXPECT_TRUE(tiled.vae_tiled);
  // 256-px tiles every 192 px over the 88 x 160 latent: rows at 0, 24, 48, 72 (the last 16
  // high), columns at 0, 24, ..., 144 (the last 16 wide).
  const u64 area = (3 * 256 + 128) * (6 * 256 + 128);
  const u64 tiles = 3 * 93 * area * kB;
  const WorldStage& vae = tiled.stage("vae");
  EXPECT_EQ(vae.working_parts.at(2).first, "tiles");
  EXPECT_EQ(vae.working_parts.at(2).second, tiles);
  EXPECT_LT(vae.working, whole.stage("vae").working / 4);
  EXPECT_EQ(tiled.stage("transformer").working, whole.stage("transformer").working);
}

}  // namespace
}  // namespace duogen::runtime
