// Qwen2.5-VL language model: parity with transformers on the tiny checkpoints (goldens from
// tools/reference/dump_qwen2_5_vl.py: logits, every hidden state, M-RoPE positions, greedy
// continuation), KV-cache decoding and chunked prefill (images appended later) against the full
// forward, the KV cache itself, and loading errors.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "models/qwen2_5_vl/generate.h"
#include "models/qwen2_5_vl/kv_cache.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/rope_index.h"
#include "testing/process.h"
#include "testing/test_paths.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/load_tokenizer.h"
#include "verify/compare.h"
#include "verify/reference_dump.h"
#include "verify/verifier.h"

namespace duogen::qwen2_5_vl {
namespace {

std::filesystem::path tiny_model() { return testing::data_dir() / "tiny-qwen2_5_vl"; }
std::filesystem::path tied_model() { return testing::data_dir() / "tiny-qwen2_5_vl-tied"; }
std::filesystem::path golden(const std::string& name) {
  return testing::data_dir() / "reference" / ("qwen2_5_vl.lm." + name + ".safetensors");
}

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

std::vector<ImageGrid> grids_of(const verify::TensorMap& inputs) {
  std::vector<ImageGrid> grids;
  if (inputs.count("image_grid_thw") == 0) return grids;
  const at::Tensor thw = inputs.at("image_grid_thw");
  for (std::int64_t i = 0; i < thw.size(0); ++i) {
    grids.push_back({thw[i][0].item<std::int64_t>(), thw[i][1].item<std::int64_t>(),
                     thw[i][2].item<std::int64_t>()});
  }
  return grids;
}

// Every golden through `duogen verify`'s component: logits and hidden states within the dump's
// tolerance (fp32: 1e-5 relative, rounding only; bf16: 2e-2, 8-bit mantissa through every layer;
// see dump_qwen2_5_vl.py), positions, rope_deltas and the greedy continuation exactly.
TEST(Qwen2_5_VLTest, MatchesTransformers) {
  struct Case {
    const char* name;
    double float_rtol;
  };
  for (const Case& c :
       {Case{"text.float32", 1e-5}, Case{"text.bfloat16", 2e-2}, Case{"tied.float32", 1e-5},
        Case{"tied.bfloat16", 2e-2}, Case{"images.float32", 1e-5}}) {
    SCOPED_TRACE(c.name);
    verify::VerifyOptions options;
    options.model = std::string(c.name).rfind("tied", 0) == 0 ? tied_model() : tiny_model();
    options.reference = golden(c.name);
    const auto report = verify::run_verify(options);
    ASSERT_EQ(report.outputs.size(), 5u);  // logits, hidden_states, position_ids, rope_deltas,
                                           // generated_ids
    for (const auto& o : report.outputs) {
      EXPECT_TRUE(o.shape_ok) << o.name;
      if (o.name == "logits" || o.name == "hidden_states") {
        EXPECT_LE(o.rel_error, c.float_rtol) << o.name;
      } else {
        EXPECT_EQ(o.max_abs_error, 0) << o.name;
      }
      std::printf("  %s %-14s rel %.3g max_abs %.3g\n", c.name, o.name.c_str(), o.rel_error,
                  o.max_abs_error);
    }
    EXPECT_TRUE(report.passed());
  }
}

// Token ids and positions are compared exactly: one wrong id fails whatever the tolerance.
TEST(Qwen2_5_VLTest, IntegerOutputsMustMatchExactly) {
  const at::Tensor expected = at::tensor({900, 901, 902}, at::kLong);
  EXPECT_TRUE(verify::compare("ids", expected.clone(), expected, 1e-5).passed);
  EXPECT_FALSE(
      verify::compare("ids", at::tensor({900, 901, 903}, at::kLong), expected, 1.0).passed);
}

// The generated ids differ between goldens, so matching them is not luck of a constant model.
TEST(Qwen2_5_VLTest, GoldensGenerateDistinctTokens) {
  const auto dump = verify::ReferenceDump::load(golden("text.float32"));
  const at::Tensor ids = dump.expected.at("generated_ids");
  ASSERT_EQ(ids.size(1), 8);
  EXPECT_GT(std::get<0>(at::_unique(ids)).numel(), 2);
}

// Prefill of a prefix, then one token at a time through the KV cache, gives the logits of the
// full forward at every position (fp32 rounding: attention over a cached prefix sums in a
// different order than over the whole sequence).
TEST(Qwen2_5_VLTest, KvCacheDecodeEqualsFullRecompute) {
  c10::InferenceMode guard;
  const auto dump = verify::ReferenceDump::load(golden("text.float32"));
  const at::Tensor ids = dump.inputs.at("input_ids").reshape({-1});
  const std::int64_t t = ids.numel();
  ModelOptions options;
  options.cache.initial_capacity = 4;  // forces several reallocations on the way
  options.cache.grow_chunk = 4;
  const auto model = Model::load(tiny_model(), options);

  auto full_session = model.new_session();
  ChunkInput full{ids};
  full.logits = LogitsMode::kAll;
  const at::Tensor full_logits = model.forward(full_session, full).logits;

  auto session = model.new_session();
  const std::int64_t prefix = 9;
  ChunkInput head{ids.narrow(0, 0, prefix)};
  head.logits = LogitsMode::kAll;
  std::vector<at::Tensor> rows = {model.forward(session, head).logits};
  for (std::int64_t i = prefix; i < t; ++i) {
    rows.push_back(model.decode_step(session, ids[i].item<std::int64_t>()));
  }
  EXPECT_EQ(session.length(), t);
  EXPECT_GE(session.cache().capacity(), t);
  const at::Tensor stepped = at::cat(rows, 0);
  EXPECT_LE(rel_error(stepped, full_logits), 1e-6);
  EXPECT_LE(rel_error(full_logits.unsqueeze(0), dump.expected.at("logits")), 1e-5);
}

// The two-image prompt fed in chunks — text, image 1, some single tokens, then image 2 and the
// rest in one chunk (an image appended mid-decode) — reproduces transformers' full forward: the
// incremental "next free position" rule equals get_rope_index over the whole sequence.
TEST(Qwen2_5_VLTest, ChunkedImagePromptMatchesFullForward) {
  c10::InferenceMode guard;
  const auto dump = verify::ReferenceDump::load(golden("images.float32"));
  const at::Tensor ids = dump.inputs.at("input_ids").reshape({-1});
  const at::Tensor embeds = dump.inputs.at("vision_embeds");
  const auto grids = grids_of(dump.inputs);
  ASSERT_EQ(grids.size(), 2u);
  const std::int64_t n0 = merged_token_count(grids[0], 2);
  const at::Tensor image_pos = (ids == 1010).nonzero().reshape({-1});
  const std::int64_t second_start = image_pos[n0].item<std::int64_t>() - 1;   // its vision_start
  const std::int64_t first_end = image_pos[n0 - 1].item<std::int64_t>() + 2;  // after vision_end
  ASSERT_LT(first_end + 3, second_start);

  const auto model = Model::load(tiny_model());
  auto session = model.new_session();
  std::vector<at::Tensor> logits, positions;
  auto run = [&](std::int64_t begin, std::int64_t end, std::vector<ImageGrid> g, at::Tensor e) {
    ChunkInput chunk{ids.slice(0, begin, end), e, std::move(g), LogitsMode::kAll};
    const auto out = model.forward(session, chunk);
    logits.push_back(out.logits);
    positions.push_back(out.positions);
  };
  run(0, first_end, {grids[0]}, embeds.narrow(0, 0, n0));
  for (std::int64_t i = first_end; i < first_end + 3; ++i) run(i, i + 1, {}, {});
  run(first_end + 3, ids.numel(), {grids[1]}, embeds.narrow(0, n0, embeds.size(0) - n0));

  EXPECT_TRUE(at::equal(at::cat(positions, 1), dump.expected.at("position_ids").squeeze(1)));
  EXPECT_EQ(rope_delta(session.next_position(), session.length()),
            dump.expected.at("rope_deltas").item<std::int64_t>());
  EXPECT_LE(rel_error(at::cat(logits, 0).unsqueeze(0), dump.expected.at("logits")), 1e-5);
}

// Truncating a session rewinds the cache and the positions: re-running the suffix gives the same
// logits.
TEST(Qwen2_5_VLTest, TruncateThenRerunIsIdentical) {
  c10::InferenceMode guard;
  const auto dump = verify::ReferenceDump::load(golden("images.float32"));
  const at::Tensor ids = dump.inputs.at("input_ids").reshape({-1});
  const auto model = Model::load(tiny_model());
  auto session = model.new_session();
  ChunkInput chunk{ids, dump.inputs.at("vision_embeds"), grids_of(dump.inputs), LogitsMode::kAll};
  const at::Tensor first = model.forward(session, chunk).logits;
  const std::int64_t keep = ids.numel() - 5;
  session.truncate(keep);
  EXPECT_EQ(session.length(), keep);
  ChunkInput tail{ids.slice(0, keep)};
  tail.logits = LogitsMode::kAll;
  EXPECT_LE(rel_error(model.forward(session, tail).logits, first.narrow(0, keep, 5)), 1e-6);
  EXPECT_THROW(session.truncate(ids.numel() + 1), InvalidArgument);
}

// Hidden states for chosen positions are those rows of the full capture.
TEST(Qwen2_5_VLTest, CapturesChosenPositions) {
  c10::InferenceMode guard;
  const auto dump = verify::ReferenceDump::load(golden("text.float32"));
  const auto model = Model::load(tiny_model());
  auto session = model.new_session();
  ChunkInput chunk{dump.inputs.at("input_ids")};
  chunk.capture_hidden_states = true;
  chunk.capture_positions = {0, 5, 23};
  const at::Tensor h = model.forward(session, chunk).hidden_states;  // [L + 1, 3, H]
  const at::Tensor expected = dump.expected.at("hidden_states")
                                  .squeeze(1)
                                  .index_select(1, at::tensor({0, 5, 23}, at::kLong));
  ASSERT_EQ(h.sizes(), expected.sizes());
  EXPECT_LE(rel_error(h, expected), 1e-5);
  chunk.capture_positions = {24};
  auto other = model.new_session();
  EXPECT_THROW(model.forward(other, chunk), InvalidArgument);
}

TEST(Qwen2_5_VLTest, RopeIndexRejectsMismatchedImages) {
  const RopeIndexOptions options{7, 2};
  const at::Tensor ids = at::tensor({1, 7, 7, 7, 7, 2}, at::kLong);
  const auto ok = compute_rope_index(ids, {{1, 4, 4}}, options, 10);
  EXPECT_EQ(ok.next_position, 10 + 1 + 2 + 1);
  EXPECT_THROW(compute_rope_index(ids, {}, options), InvalidArgument);           // no grid
  EXPECT_THROW(compute_rope_index(ids, {{1, 4, 6}}, options), InvalidArgument);  // 6 tokens
  EXPECT_THROW(
      compute_rope_index(ids, {{1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2}}, options),
      InvalidArgument);                                                          // grids left over
  EXPECT_THROW(compute_rope_index(ids, {{1, 3, 4}}, options), InvalidArgument);  // odd grid
}

TEST(Qwen2_5_VLTest, RejectsBadInputs) {
  c10::InferenceMode guard;
  const auto model = Model::load(tiny_model());
  auto session = model.new_session();
  EXPECT_THROW(model.forward(session, ChunkInput{at::tensor({5, 1024}, at::kLong)}),
               InvalidArgument);  // id outside the vocabulary
  EXPECT_THROW(
      model.forward(session, ChunkInput{at::tensor({5, 1010, 1010, 1010, 1010}, at::kLong)}),
      InvalidArgument);  // image tokens without grids or features
  ChunkInput wrong{
      at::tensor({5, 1010, 1010, 1010, 1010}, at::kLong), at::zeros({3, 64}), {{1, 4, 4}}};
  EXPECT_THROW(model.forward(session, wrong), InvalidArgument);  // 3 feature rows for 4 tokens
  EXPECT_EQ(session.length(), 0);
}

TEST(KVCacheTest, GrowsKeepsContentsAndTruncates) {
  KVCacheOptions options;
  options.initial_capacity = 2;
  options.grow_chunk = 3;
  KVCache cache(2, 1, 4, at::TensorOptions(at::kFloat), options);
  const at::Tensor k1 = at::randn({1, 1, 2, 4}), v1 = at::randn({1, 1, 2, 4});
  for (std::int64_t l = 0; l < 2; ++l) cache.write(l, k1, v1);
  cache.commit(2);
  cache.reserve(5);
  EXPECT_EQ(cache.capacity(), 6);
  const at::Tensor k2 = at::randn({1, 1, 3, 4}), v2 = at::randn({1, 1, 3, 4});
  const auto [keys, values] = cache.write(1, k2, v2);
  EXPECT_TRUE(at::equal(keys, at::cat({k1, k2}, 2)));
  EXPECT_TRUE(at::equal(values, at::cat({v1, v2}, 2)));
  cache.commit(3);
  cache.truncate(1);
  EXPECT_EQ(cache.length(), 1);
  EXPECT_THROW(cache.truncate(2), InvalidArgument);
  EXPECT_THROW(cache.write(2, k1, v1), InvalidArgument);  // no layer 2
  EXPECT_THROW(cache.write(0, at::randn({1, 2, 1, 4}), at::randn({1, 2, 1, 4})),
               InvalidArgument);  // 2 kv heads
  options.max_capacity = 4;
  KVCache bounded(1, 1, 4, at::TensorOptions(at::kFloat), options);
  EXPECT_THROW(bounded.reserve(5), InvalidArgument);
}

// Greedy generation stops at a stop token (included in the output, like transformers) and when
// the callback says so.
TEST(Qwen2_5_VLTest, GenerationStops) {
  const auto dump = verify::ReferenceDump::load(golden("text.float32"));
  const at::Tensor expected = dump.expected.at("generated_ids").reshape({-1});
  const auto model = Model::load(tiny_model());
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.stop_token_ids = {expected[2].item<std::int64_t>()};
  auto session = model.new_session();
  const auto stopped = generate(model, session, ChunkInput{dump.inputs.at("input_ids")}, options);
  ASSERT_EQ(stopped.tokens.size(), 3u);
  EXPECT_EQ(stopped.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(session.length(), dump.inputs.at("input_ids").size(1) + 2);

  options.stop_token_ids = {-1};
  int calls = 0;
  auto session2 = model.new_session();
  const auto cut = generate(model, session2, ChunkInput{dump.inputs.at("input_ids")}, options,
                            nullptr, [&](std::int64_t, std::string_view) { return ++calls < 4; });
  EXPECT_EQ(cut.tokens.size(), 4u);
  EXPECT_EQ(cut.stop_reason, StopReason::kCallback);
  for (std::size_t i = 0; i < cut.tokens.size(); ++i) {
    EXPECT_EQ(cut.tokens[i], expected[i].item<std::int64_t>());
  }
}

class Qwen2_5_VLLoadTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("qwen2_5_vl_lm"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A copy of the tied checkpoint with config.json edited by `edit`.
  std::filesystem::path with_config(const std::function<void(nlohmann::json&)>& edit) const {
    std::filesystem::copy(tied_model(), dir_);
    nlohmann::json config = io::read_json_file(dir_ / "config.json");
    edit(config);
    std::ofstream(dir_ / "config.json") << config.dump(2);
    return dir_;
  }

  std::filesystem::path dir_;
};

std::string load_error(const std::filesystem::path& dir) {
  try {
    Model::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(Qwen2_5_VLLoadTest, RejectsOtherArchitecture) {
  const auto dir = with_config([](nlohmann::json& c) { c["model_type"] = "qwen2_vl"; });
  EXPECT_THROW(Model::load(dir), FormatError);
  EXPECT_NE(load_error(dir).find("model_type is 'qwen2_vl'"), std::string::npos);
}

TEST_F(Qwen2_5_VLLoadTest, ReportsShapeMismatchesWithNames) {
  const auto dir = with_config([](nlohmann::json& c) {
    c["text_config"]["intermediate_size"] = 96;
    c["text_config"]["num_key_value_heads"] = 1;
  });
  EXPECT_THROW(Model::load(dir), WeightError);
  const std::string msg = load_error(dir);
  EXPECT_NE(msg.find("model.layers.1.mlp.down_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << msg;
}

// The tied checkpoint has no lm_head.weight: declaring it untied must fail naming the tensor.
TEST_F(Qwen2_5_VLLoadTest, UntiedConfigNeedsLmHead) {
  const auto dir = with_config([](nlohmann::json& c) { c["tie_word_embeddings"] = false; });
  EXPECT_THROW(Model::load(dir), WeightError);
  EXPECT_NE(load_error(dir).find("lm_head.weight"), std::string::npos);
}

}  // namespace
}  // namespace duogen::qwen2_5_vl

namespace duogen::qwen2_5_vl {
namespace {

std::filesystem::path qwen_tokenizer() { return DUOGEN_QWEN_TOKENIZER_DIR; }

// A random checkpoint whose vocabulary holds Qwen's tokens (151936 ids, width 16, one layer,
// tied), written at test time so the chat CLI can run the real tokenizer and template end to end.
std::filesystem::path make_chat_checkpoint(const std::filesystem::path& dir) {
  nlohmann::json config = io::read_json_file(tiny_model() / "config.json");
  auto& text = config["text_config"];
  text["vocab_size"] = 151936;
  text["hidden_size"] = 16;
  text["intermediate_size"] = 32;
  text["num_hidden_layers"] = 1;
  text.erase("layer_types");        // one entry per layer (transformers checks the count too)
  text["num_attention_heads"] = 2;  // head_dim 8
  text["num_key_value_heads"] = 1;
  text["rope_parameters"]["mrope_section"] = {1, 1, 2};
  text["eos_token_id"] = 151645;
  config["tie_word_embeddings"] = true;
  std::ofstream(dir / "config.json") << config.dump(2);
  at::manual_seed(7);
  auto w = [](std::vector<std::int64_t> shape) { return at::randn(shape) * 0.5; };
  const std::string l = "model.layers.0.";
  io::write_safetensors(dir / "model.safetensors",
                        {{"model.embed_tokens.weight", w({151936, 16})},
                         {"model.norm.weight", w({16}) + 1},
                         {l + "input_layernorm.weight", w({16}) + 1},
                         {l + "post_attention_layernorm.weight", w({16}) + 1},
                         {l + "self_attn.q_proj.weight", w({16, 16})},
                         {l + "self_attn.q_proj.bias", w({16})},
                         {l + "self_attn.k_proj.weight", w({8, 16})},
                         {l + "self_attn.k_proj.bias", w({8})},
                         {l + "self_attn.v_proj.weight", w({8, 16})},
                         {l + "self_attn.v_proj.bias", w({8})},
                         {l + "self_attn.o_proj.weight", w({16, 16})},
                         {l + "mlp.gate_proj.weight", w({32, 16})},
                         {l + "mlp.up_proj.weight", w({32, 16})},
                         {l + "mlp.down_proj.weight", w({16, 32})}});
  return dir;
}

class ChatCliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("qwen2_5_vl_chat"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  testing::ProcessResult chat(std::vector<std::string> args) const {
    args.insert(args.begin(), {testing::duogen_binary().string(), "-v", "warn", "chat"});
    return testing::run_process(args);
  }
  std::filesystem::path dir_;
};

// The streamed reply equals the library's greedy generation decoded by the tokenizer.
TEST_F(ChatCliTest, StreamsTheGreedyReply) {
  const auto model_dir = make_chat_checkpoint(dir_);
  const auto r =
      chat({"--model", model_dir.string(), "--tokenizer", qwen_tokenizer().string(), "--prompt",
            "Hello there", "--system", "Be brief.", "--max-new-tokens", "12"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto tok = tokenizer::load_tokenizer(qwen_tokenizer());
  tokenizer::ChatTemplateOptions template_options;
  template_options.default_system_prompt = "Be brief.";
  const tokenizer::ChatTemplate templ(*tok, template_options);
  tokenizer::ChatMessage user{"user",
                              {tokenizer::ChatItem{tokenizer::ChatItemKind::kText, "Hello there"}}};
  const auto rendered = templ.render({user});
  const auto model = Model::load(model_dir);
  auto session = model.new_session();
  GenerationOptions options;
  options.max_new_tokens = 12;
  options.stop_token_ids = {151645};
  const auto result =
      generate(model, session,
               ChunkInput{at::tensor(
                   std::vector<std::int64_t>(rendered.ids.begin(), rendered.ids.end()), at::kLong)},
               options);
  const std::string expected =
      tok->decode(std::vector<std::int32_t>(result.tokens.begin(), result.tokens.end()),
                  /*skip_special=*/true);
  EXPECT_FALSE(result.tokens.empty());
  EXPECT_EQ(r.out, expected + "\n");
}

// Sampling with a seed is reproducible run to run, and reads the prompt from a file.
TEST_F(ChatCliTest, SeededSamplingIsReproducible) {
  const auto model_dir = make_chat_checkpoint(dir_);
  std::ofstream(dir_ / "prompt.txt") << "Tell me a story.";
  const std::vector<std::string> args = {"--model",          model_dir.string(),
                                         "--tokenizer",      qwen_tokenizer().string(),
                                         "--prompt-file",    (dir_ / "prompt.txt").string(),
                                         "--temperature",    "1.5",
                                         "--top-k",          "50",
                                         "--top-p",          "0.95",
                                         "--seed",           "3",
                                         "--max-new-tokens", "10"};
  const auto a = chat(args), b = chat(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_GT(a.out.size(), 1u);
}

TEST_F(ChatCliTest, UsageErrors) {
  const std::string tiny = tiny_model().string();
  auto r = chat({"--model", tiny, "--prompt", "hi"});  // the tiny dir has no tokenizer
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  r = chat({"--model", tiny, "--tokenizer", qwen_tokenizer().string(), "--prompt", "hi", "--image",
            (dir_ / "missing.png").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
  r = chat({"--model", tiny, "--tokenizer", qwen_tokenizer().string()});
  EXPECT_EQ(r.exit_code, 2);
  // The tiny vocabulary (1024 ids) cannot hold the chat template's tokens: a runtime error.
  r = chat({"--model", tiny, "--tokenizer", qwen_tokenizer().string(), "--prompt", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace duogen::qwen2_5_vl
