// Cosmos-Predict2.5 DiT: parity with diffusers CosmosTransformer3DModel on the tiny checkpoint
// (goldens from tools/reference/dump_cosmos_dit.py), the packed-frame path against the dense
// path, both checkpoint layouts (the original one written as a .pt and converted by
// tools/convert/cosmos_dit_pt_to_safetensors.py), the connector, and load/input errors.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "models/cosmos_dit/config.h"
#include "models/cosmos_dit/connector.h"
#include "models/cosmos_dit/dit.h"
#include "models/cosmos_dit/embeddings.h"
#include "models/cosmos_dit/rope3d.h"
#include "models/cosmos_dit/weights.h"
#include "testing/test_paths.h"
#include "verify/reference_dump.h"
#include "verify/verifier.h"

namespace duogen::cosmos_dit {
namespace {

std::filesystem::path tiny_model() { return testing::data_dir() / "tiny-cosmos_dit"; }
std::filesystem::path tiny_original() { return testing::data_dir() / "tiny-cosmos_dit-original"; }
std::filesystem::path golden(const std::string& name) {
  return testing::data_dir() / "reference" / ("cosmos_dit." + name + ".safetensors");
}

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

template <typename E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

class CosmosDitTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("cosmos_dit"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A copy of the tiny checkpoint with tensors renamed/changed by `edit` (false drops one),
  // plus `extra` tensors, and optionally another config.json text.
  std::filesystem::path edited_copy(const std::function<bool(std::string&, at::Tensor&)>& edit,
                                    const io::NamedTensors& extra = {},
                                    const std::string& config = "") const {
    const auto out = dir_ / "edited";
    std::filesystem::create_directories(out);
    if (config.empty()) {
      std::filesystem::copy_file(tiny_model() / "config.json", out / "config.json",
                                 std::filesystem::copy_options::overwrite_existing);
    } else {
      std::ofstream(out / "config.json") << config;
    }
    const auto file = io::SafetensorsFile::open(tiny_model() / "model.safetensors");
    io::NamedTensors tensors;
    for (const auto& info : file.tensors()) {
      std::string name = info.name;
      at::Tensor t = file.tensor(info).clone();
      if (edit(name, t)) tensors.emplace_back(name, t);
    }
    for (const auto& e : extra) tensors.push_back(e);
    io::write_safetensors(out / "model.safetensors", tensors);
    return out;
  }

  std::filesystem::path dir_;
};

// Every golden: duogen's output against diffusers' within the dump's tolerance (fp32: 1e-5
// relative; bf16 network vs fp32 reference: 2e-2; see dump_cosmos_dit.py for why).
TEST_F(CosmosDitTest, MatchesDiffusers) {
  for (const char* name : {"t2i", "condition_frames", "padding_mask", "hidden_states", "connector",
                           "packed", "condition_frames.bf16"}) {
    SCOPED_TRACE(name);
    verify::VerifyOptions options;
    options.model = tiny_model();
    options.reference = golden(name);
    const auto report = verify::run_verify(options);
    ASSERT_FALSE(report.outputs.empty());
    const double bound = report.dtype == "bfloat16" ? 2e-2 : 1e-5;
    for (const auto& c : report.outputs) {
      EXPECT_TRUE(c.shape_ok) << c.name;
      EXPECT_LE(c.rel_error, bound) << c.name;
      std::printf("  %-24s %-10s rel %.3g  max_abs %.3g\n", name, c.name.c_str(), c.rel_error,
                  c.max_abs_error);
    }
    EXPECT_TRUE(report.passed());
  }
}

// The padding-mask golden must depend on the mask, or that case proves nothing.
TEST_F(CosmosDitTest, PaddingMaskGoldenDependsOnTheMask) {
  const auto dump = verify::ReferenceDump::load(golden("padding_mask"));
  const auto dit = CosmosDiT::load(tiny_model(), {});
  const auto ctx = dit.prepare_context(dump.inputs.at("context"));
  const at::Tensor v = dit.velocity(dump.inputs.at("x"), dump.inputs.at("timesteps"), ctx,
                                    dump.inputs.at("condition_mask"));
  EXPECT_GT(rel_error(v, dump.expected.at("velocity")), 1e-3);
}

// §9.2: with equal-size frames the packed sequence is the dense Cosmos call; the target frame's
// velocity agrees up to reduction order.
TEST_F(CosmosDitTest, PackedEqualsDenseForEqualFrames) {
  c10::InferenceMode guard;
  const auto dit = CosmosDiT::load(tiny_model(), {});
  at::manual_seed(3);
  const at::Tensor x = at::randn({2, 16, 3, 8, 12});
  const auto ctx = dit.prepare_context(at::randn({1, 5, 60}));
  at::Tensor cond = at::zeros({2, 1, 3, 8, 12});
  cond.slice(2, 0, 2).fill_(1.0);
  const at::Tensor t = at::tensor({1e-4, 2e-3, 0.5, 1e-4, 1e-4, 0.3}).view({2, 3});
  const at::Tensor dense = dit.velocity(x, t, ctx, cond);
  std::vector<PackedFrame> frames;
  for (std::int64_t f = 0; f < 3; ++f) {
    frames.push_back({x.select(2, f), t.select(1, f), f < 2});
  }
  const at::Tensor packed = dit.velocity_packed(frames, ctx);
  ASSERT_EQ(packed.sizes(), (std::vector<std::int64_t>{2, 16, 8, 12}));
  EXPECT_LE(rel_error(packed, dense.select(2, 2)), 1e-5);
  // A 5-D target keeps its rank.
  frames.back().latent = x.slice(2, 2, 3);
  EXPECT_EQ(dit.velocity_packed(frames, ctx).sizes(), (std::vector<std::int64_t>{2, 16, 1, 8, 12}));
  // And the condition frames matter (the test above would pass trivially otherwise).
  const at::Tensor alone = dit.velocity_packed({frames.back()}, ctx);
  EXPECT_GT(rel_error(alone, dense.slice(2, 2, 3)), 1e-3);
}

// The original Cosmos layout (converted .pt) loads to the same network as the diffusers layout.
TEST_F(CosmosDitTest, OriginalLayoutEqualsDiffusersLayout) {
  c10::InferenceMode guard;
  const auto a = CosmosDiT::load(tiny_model(), {});
  const auto b = CosmosDiT::load(tiny_original(), {});
  EXPECT_EQ(a.layout(), Layout::kDiffusers);
  EXPECT_EQ(b.layout(), Layout::kOriginal);
  const auto dump = verify::ReferenceDump::load(golden("condition_frames"));
  const auto& in = dump.inputs;
  const at::Tensor va = a.velocity(in.at("x"), in.at("timesteps"), a.prepare_context(in.at("context")),
                                   in.at("condition_mask"), in.at("padding_mask"));
  const at::Tensor vb = b.velocity(in.at("x"), in.at("timesteps"), b.prepare_context(in.at("context")),
                                   in.at("condition_mask"), in.at("padding_mask"));
  EXPECT_TRUE(at::equal(va, vb));
}

// duogen's original -> diffusers names equal diffusers' convert_cosmos_transformer_checkpoint_to_
// diffusers (tests/data/reference/cosmos_dit_name_map.json), both ways.
TEST_F(CosmosDitTest, LayoutMappingMatchesDiffusersConverter) {
  const auto map = io::read_json_file(testing::data_dir() / "reference/cosmos_dit_name_map.json");
  const auto config = Config::from_directory(tiny_model());
  ASSERT_EQ(map.size(), 49u);
  for (const auto& [original, diffusers] : map.items()) {
    EXPECT_EQ(to_diffusers_name(original, config), diffusers.get<std::string>());
    EXPECT_EQ(to_original_name(diffusers.get<std::string>(), config), original);
  }
}

// A context prepared with batch 1 serves every sample of a latent batch, and equals preparing it
// per sample; the all-layer path equals normalising + projecting by hand.
TEST_F(CosmosDitTest, ContextBroadcastAndHiddenStatePath) {
  c10::InferenceMode guard;
  const auto dit = CosmosDiT::load(tiny_model(), {});
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 16, 1, 4, 6});
  const at::Tensor hidden = at::randn({4, 3, 20});  // HF tuple: entry 0 dropped
  const auto ctx = dit.prepare_context_from_hidden_states(hidden);
  const auto by_hand = dit.prepare_context(concat_normalized_layers(hidden.slice(0, 1), 60));
  EXPECT_TRUE(at::equal(ctx.context, by_hand.context));
  const at::Tensor both = dit.velocity(x, at::tensor({0.2, 0.9}), ctx);
  const at::Tensor first = dit.velocity(x.slice(0, 0, 1), at::tensor({0.2}), ctx);
  EXPECT_LE(rel_error(both.slice(0, 0, 1), first), 1e-6);
}

// A connector shipped as its own file (a DuoGen release) gives the same network as one inside
// the DiT checkpoint; a connector file that lacks a tensor is an error naming it.
TEST_F(CosmosDitTest, SeparateConnectorWeights) {
  c10::InferenceMode guard;
  io::NamedTensors connector;
  const auto dit_dir = edited_copy([&](std::string& name, at::Tensor& t) {
    if (name.rfind("crossattn_proj.", 0) != 0) return true;
    connector.emplace_back(name, t);
    return false;
  });
  ASSERT_FALSE(connector.empty());
  io::write_safetensors(dir_ / "connector.safetensors", connector);
  DitOptions options;
  options.connector = dir_ / "connector.safetensors";
  const auto split = CosmosDiT::load(dit_dir, options);
  const auto whole = CosmosDiT::load(tiny_model(), {});
  at::manual_seed(8);
  const at::Tensor hidden = at::randn({4, 3, 20});
  EXPECT_TRUE(at::equal(split.prepare_context_from_hidden_states(hidden).context,
                        whole.prepare_context_from_hidden_states(hidden).context));
  io::write_safetensors(dir_ / "partial.safetensors", {connector.front()});
  options.connector = dir_ / "partial.safetensors";
  try {
    CosmosDiT::load(dit_dir, options);
    ADD_FAILURE() << "a connector file without all its tensors loaded";
  } catch (const WeightError& e) {
    EXPECT_NE(std::string(e.what()).find(connector.back().first), std::string::npos) << e.what();
  }
}

TEST_F(CosmosDitTest, ConnectorNormalisation) {
  // Unbiased std, per token: a token [0, 2] (mean 1, std sqrt(2)) -> [-1/sqrt 2, 1/sqrt 2].
  const at::Tensor h = at::tensor({0.0, 2.0, 5.0, 5.0}, at::kFloat).view({2, 1, 2});
  const at::Tensor out = concat_normalized_layers(h, 4);
  ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{1, 4}));
  EXPECT_NEAR(out[0][0].item<double>(), -1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(out[0][1].item<double>(), 1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(out[0][2].item<double>(), 0.0, 1e-6);  // constant token: 0 / (0 + 1e-8)
  const auto msg = message_of<InvalidArgument>([&] { concat_normalized_layers(h, 6); });
  EXPECT_NE(msg.find("6 input channels"), std::string::npos) << msg;
}

TEST_F(CosmosDitTest, EmbeddingOrders) {
  // patchify: features (c, dt, dy, dx); unpatchify reads (dy, dx, dt, c).
  const at::Tensor x = at::arange(2 * 1 * 2 * 2, at::kFloat).view({1, 2, 1, 2, 2});
  const at::Tensor p = patchify(x, {1, 2, 2});
  EXPECT_TRUE(at::equal(p.flatten(), at::arange(8, at::kFloat)));
  const at::Tensor u = unpatchify(at::arange(8, at::kFloat).view({1, 1, 8}), 1, 1, 1, {1, 2, 2}, 2);
  // feature index = (dy * 2 + dx) * 2 + c
  EXPECT_EQ(u[0][1][0][1][0].item<float>(), 5.0f);  // c=1, dy=1, dx=0 -> (2)*2+1
  // Sinusoid: cos first.
  const at::Tensor s = timestep_sinusoid(at::tensor({0.0}), 4);
  EXPECT_TRUE(at::equal(s, at::tensor({1.0f, 1.0f, 0.0f, 0.0f}).view({1, 4})));
}

TEST_F(CosmosDitTest, Predict25Config) {
  const Config c = Config::cosmos_predict2_5_2b();
  EXPECT_EQ(c.hidden_size(), 2048);
  EXPECT_EQ(c.patch_in_features(), 72);
  EXPECT_EQ(c.patch_out_features(), 64);
  const Rope3D rope(c);
  EXPECT_EQ(rope.dim_t(), 44);
  EXPECT_EQ(rope.dim_h(), 42);
  EXPECT_EQ(rope.dim_w(), 42);
  const auto tables = rope.tables({{1, 1, 2}}, c10::kCPU);
  ASSERT_EQ(tables.cos.sizes(), (std::vector<std::int64_t>{2, 128}));
  // Token (t=1, y=0, x=1): angle 22 + 21 = 43 is x * f_w[0] = 1; angle 1 is t * f_t[1] =
  // 10000^(-2/44) (rope_scale t = 1).
  EXPECT_NEAR(tables.cos[1][43].item<double>(), std::cos(1.0), 1e-6);
  EXPECT_NEAR(tables.cos[1][1].item<double>(), std::cos(std::pow(10000.0, -2.0 / 44)), 1e-6);
  // h/w theta = 10000 * 3^(42/40): angle 44 (w, j = 1) = 1 / theta^(2/42).
  const double theta = 10000.0 * std::pow(3.0, 42.0 / 40.0);
  EXPECT_NEAR(tables.sin[1][44].item<double>(), std::sin(std::pow(theta, -2.0 / 42)), 1e-6);
}

TEST_F(CosmosDitTest, InputErrors) {
  c10::InferenceMode guard;
  const auto dit = CosmosDiT::load(tiny_model(), {});
  const auto ctx = dit.prepare_context(at::randn({1, 3, 60}));
  const at::Tensor t = at::tensor({0.5});
  auto msg = message_of<InvalidArgument>([&] { dit.velocity(at::randn({1, 15, 1, 4, 4}), t, ctx); });
  EXPECT_NE(msg.find("15 channels"), std::string::npos) << msg;
  msg = message_of<InvalidArgument>([&] { dit.prepare_context(at::randn({1, 3, 59})); });
  EXPECT_NE(msg.find("59 channels"), std::string::npos) << msg;
  msg = message_of<InvalidArgument>([&] { dit.velocity(at::randn({1, 16, 1, 5, 4}), t, ctx); });
  EXPECT_NE(msg.find("multiple of the patch"), std::string::npos) << msg;
  msg = message_of<InvalidArgument>(
      [&] { dit.velocity(at::randn({1, 16, 2, 4, 4}), at::tensor({0.1, 0.2, 0.3}), ctx); });
  EXPECT_NE(msg.find("timesteps"), std::string::npos) << msg;
  msg = message_of<InvalidArgument>([&] { dit.velocity(at::randn({1, 16, 1, 2, 242}), t, ctx); });
  EXPECT_NE(msg.find("trained range"), std::string::npos) << msg;
  msg = message_of<InvalidArgument>([&] { dit.velocity_packed({}, ctx); });
  EXPECT_NE(msg.find("target"), std::string::npos) << msg;
  const auto ctx3 = dit.prepare_context(at::randn({3, 2, 60}));
  msg = message_of<InvalidArgument>([&] { dit.velocity(at::randn({2, 16, 1, 4, 4}), t, ctx3); });
  EXPECT_NE(msg.find("context batch 3"), std::string::npos) << msg;
  msg = message_of<InvalidArgument>([&] {
    dit.velocity(at::randn({1, 16, 1, 4, 4}), t, ctx, at::ones({1, 1, 2, 4, 4}));
  });
  EXPECT_NE(msg.find("condition_mask"), std::string::npos) << msg;
}

// Original-layout checkpoints converted without dropping Cosmos' non-parameter entries still
// load (they are ignored there, architecture.md §12.2); in the diffusers layout they are unknown.
TEST_F(CosmosDitTest, OriginalLayoutIgnoresNonParameterEntries) {
  const auto out = dir_ / "original_extra";
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(tiny_original() / "config.json", out / "config.json");
  const auto file = io::SafetensorsFile::open(tiny_original() / "model.safetensors");
  io::NamedTensors tensors;
  for (const auto& info : file.tensors()) tensors.emplace_back(info.name, file.tensor(info));
  ASSERT_EQ(tensors.size(), 49u);  // the converter dropped them
  tensors.emplace_back("blocks.0.self_attn._extra_state", at::zeros({0}, at::kByte));
  tensors.emplace_back("accum_iteration", at::tensor({3}, at::kLong));
  tensors.emplace_back("pos_embedder.seq", at::arange(8, at::kFloat));
  io::write_safetensors(out / "model.safetensors", tensors);
  EXPECT_EQ(CosmosDiT::load(out, {}).layout(), Layout::kOriginal);
  const auto diffusers = edited_copy([](std::string&, at::Tensor&) { return true; },
                                     {{"accum_iteration", at::tensor({3}, at::kLong)}});
  const auto msg = message_of<WeightError>([&] { CosmosDiT::load(diffusers, {}); });
  EXPECT_NE(msg.find("accum_iteration"), std::string::npos) << msg;
}

TEST_F(CosmosDitTest, LoadErrors) {
  // An unknown tensor is an error naming it.
  const auto extra = edited_copy([](std::string&, at::Tensor&) { return true; },
                                 {{"transformer_blocks.0.attn1.bogus.weight", at::zeros({2})}});
  auto msg = message_of<WeightError>([&] { CosmosDiT::load(extra, {}); });
  EXPECT_NE(msg.find("transformer_blocks.0.attn1.bogus.weight"), std::string::npos) << msg;
  // A missing tensor is an error naming it.
  const auto missing = edited_copy(
      [](std::string& n, at::Tensor&) { return n != "transformer_blocks.1.ff.net.2.weight"; });
  msg = message_of<WeightError>([&] { CosmosDiT::load(missing, {}); });
  EXPECT_NE(msg.find("transformer_blocks.1.ff.net.2.weight"), std::string::npos) << msg;
  // A mis-shaped tensor (context width 24 -> 25 in one block) too.
  const auto shaped = edited_copy([](std::string& n, at::Tensor& t) {
    if (n == "transformer_blocks.0.attn2.to_k.weight") t = at::zeros({48, 25}, t.options());
    return true;
  });
  msg = message_of<WeightError>([&] { CosmosDiT::load(shaped, {}); });
  EXPECT_NE(msg.find("transformer_blocks.0.attn2.to_k.weight"), std::string::npos) << msg;
  // Neither layout.
  const auto neither = edited_copy(
      [](std::string& n, at::Tensor&) { return n != "patch_embed.proj.weight"; });
  msg = message_of<FormatError>([&] { CosmosDiT::load(neither, {}); });
  EXPECT_NE(msg.find("not a Cosmos DiT checkpoint"), std::string::npos) << msg;
  // Unsupported config.
  auto json = io::read_json_file(tiny_model() / "config.json");
  json["extra_pos_embed_type"] = "learnable";
  const auto learnable = edited_copy([](std::string&, at::Tensor&) { return true; }, {}, json.dump());
  msg = message_of<FormatError>([&] { CosmosDiT::load(learnable, {}); });
  EXPECT_NE(msg.find("extra_pos_embed_type"), std::string::npos) << msg;
  json["extra_pos_embed_type"] = nullptr;
  json["in_channels"] = 20;
  const auto bad = edited_copy([](std::string&, at::Tensor&) { return true; }, {}, json.dump());
  msg = message_of<FormatError>([&] { CosmosDiT::load(bad, {}); });
  EXPECT_NE(msg.find("in_channels"), std::string::npos) << msg;
}

}  // namespace
}  // namespace duogen::cosmos_dit
