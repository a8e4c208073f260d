// Token sampler: every logits processor against the transformers class of the same purpose, the
// chain in the order transformers' _get_logits_processor builds it, and seeded sampling against
// torch.multinomial (golden from tools/reference/dump_logits_processors.py).
#include "sampling/token_sampler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>

#include "duogen/error.h"
#include "io/safetensors.h"
#include "testing/test_paths.h"

namespace duogen::sampling {
namespace {

class TokenSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto file = io::SafetensorsFile::open(testing::data_dir() / "reference" /
                                                "logits_processors.safetensors");
    for (const auto& info : file.tensors()) golden_[info.name] = file.tensor(info).clone();
  }
  const at::Tensor& g(const std::string& name) const { return golden_.at(name); }
  std::vector<std::int64_t> context(std::int64_t row) const {
    const at::Tensor c = g("context")[row].contiguous();
    return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
  }
  std::map<std::int64_t, double> bias() const {
    std::map<std::int64_t, double> b;
    for (std::int64_t i = 0; i < g("bias.ids").numel(); ++i) {
      b[g("bias.ids")[i].item<std::int64_t>()] = g("bias.values")[i].item<double>();
    }
    return b;
  }
  // Every row through `fn`, compared with the golden `name`. The processors are elementwise
  // fp32 ops on identical inputs, except softmax/cumsum reductions (top-p, min-p) whose
  // thresholds decide membership: masks must match exactly and values to fp32 rounding.
  void expect_rows(const std::string& name,
                   const std::function<at::Tensor(const at::Tensor&, std::int64_t)>& fn) const {
    SCOPED_TRACE(name);
    for (std::int64_t r = 0; r < g("logits").size(0); ++r) {
      const at::Tensor actual = fn(g("logits")[r], r);
      const at::Tensor expected = g(name)[r];
      EXPECT_TRUE(at::equal(at::isinf(actual), at::isinf(expected))) << "row " << r;
      const at::Tensor finite = at::isfinite(expected);
      EXPECT_TRUE(
          at::allclose(actual.masked_select(finite), expected.masked_select(finite), 1e-6, 1e-6))
          << "row " << r;
    }
  }

  std::map<std::string, at::Tensor> golden_;
};

TEST_F(TokenSamplerTest, ProcessorsMatchTransformers) {
  expect_rows("bias",
              [&](const at::Tensor& x, std::int64_t) { return apply_logit_bias(x, bias()); });
  expect_rows("repetition_penalty_1.3", [&](const at::Tensor& x, std::int64_t r) {
    return apply_repetition_penalty(x, g("context")[r], 1.3);
  });
  expect_rows("repetition_penalty_0.7", [&](const at::Tensor& x, std::int64_t r) {
    return apply_repetition_penalty(x, g("context")[r], 0.7);
  });
  expect_rows("temperature_0.7",
              [](const at::Tensor& x, std::int64_t) { return apply_temperature(x, 0.7); });
  expect_rows("top_k_5", [](const at::Tensor& x, std::int64_t) { return apply_top_k(x, 5); });
  expect_rows("top_p_0.8", [](const at::Tensor& x, std::int64_t) { return apply_top_p(x, 0.8); });
  expect_rows("min_p_0.1", [](const at::Tensor& x, std::int64_t) { return apply_min_p(x, 0.1); });
}

SamplingOptions chain_options(const std::map<std::int64_t, double>& bias) {
  SamplingOptions o;  // the CHAIN of dump_logits_processors.py
  o.do_sample = true;
  o.temperature = 0.8;
  o.top_k = 20;
  o.top_p = 0.9;
  o.min_p = 0.05;
  o.repetition_penalty = 1.2;
  o.logit_bias = bias;
  return o;
}

TEST_F(TokenSamplerTest, ChainMatchesTransformersOrder) {
  const TokenSampler sampler(chain_options(bias()));
  expect_rows("chain",
              [&](const at::Tensor& x, std::int64_t r) { return sampler.process(x, context(r)); });
}

// A seeded sampler draws what torch.multinomial draws after torch.manual_seed(seed).
TEST_F(TokenSamplerTest, SeededSamplingMatchesTorch) {
  for (std::uint64_t seed : {0, 1, 2, 3}) {
    auto options = chain_options(bias());
    options.seed = seed;
    TokenSampler sampler(options);  // one generator per seed, drawing row after row like torch's
    for (std::int64_t r = 0; r < g("logits").size(0); ++r) {
      EXPECT_EQ(sampler.sample(g("logits")[r], context(r)),
                g("chain.sample." + std::to_string(seed))[r].item<std::int64_t>())
          << "seed " << seed << " row " << r;
    }
  }
}

// The device path (select_on_device), run on CPU tensors, makes the CPU chain's choices: the
// golden rows (whose seeded draws match torch.multinomial), then a long decode whose context
// grows by each chosen token, is cut back (an image span replaced) and grows again.
TEST_F(TokenSamplerTest, TheDevicePathChoosesWhatTheCpuChainChooses) {
  for (std::uint64_t seed : {0, 1, 2, 3}) {
    auto options = chain_options(bias());
    options.seed = seed;
    TokenSampler cpu(options), device(options);
    for (std::int64_t r = 0; r < g("logits").size(0); ++r) {
      const std::int64_t chosen = device.select_on_device(g("logits")[r], context(r)).item<std::int64_t>();
      EXPECT_EQ(chosen, cpu.sample(g("logits")[r], context(r))) << "seed " << seed << " row " << r;
      EXPECT_EQ(chosen, g("chain.sample." + std::to_string(seed))[r].item<std::int64_t>());
    }
  }
  at::manual_seed(7);
  const std::int64_t vocab = 500;
  for (const bool sample : {false, true}) {
    SamplingOptions o;
    o.do_sample = sample;
    o.temperature = 0.8;
    o.top_k = 40;
    o.top_p = 0.9;
    o.min_p = 0.02;
    o.repetition_penalty = 1.3;
    o.logit_bias = {{3, 2.5}, {17, -1.0}};
    o.seed = 11;
    TokenSampler cpu(o), device(o);
    std::vector<std::int64_t> context = {1, 2, 3};
    for (int step = 0; step < 200; ++step) {
      const at::Tensor logits = 3 * at::randn({1, vocab});
      const std::int64_t expected = cpu.sample(logits, context);
      const at::Tensor got = device.select_on_device(logits, context);
      EXPECT_EQ(got.dim(), 0);
      ASSERT_EQ(got.item<std::int64_t>(), expected) << "step " << step << " sample " << sample;
      context.push_back(expected);
      if (step == 120) context.resize(10);  // not an append: the mask is rebuilt
    }
  }
}

TEST_F(TokenSamplerTest, TheDevicePathRefusesIdsOutsideTheVocabulary) {
  SamplingOptions o;
  o.repetition_penalty = 1.2;
  TokenSampler s(o);
  EXPECT_THROW(s.select_on_device(at::zeros({10}), {3, 10}), InvalidArgument);
  o.repetition_penalty = 1.0;
  o.logit_bias = {{12, 1.0}};
  TokenSampler b(o);
  EXPECT_THROW(b.select_on_device(at::zeros({10}), {}), InvalidArgument);
}

TEST_F(TokenSamplerTest, GreedyIgnoresWarpers) {
  SamplingOptions o = chain_options({});
  o.do_sample = false;
  o.repetition_penalty = 1.0;
  TokenSampler sampler(o);
  for (std::int64_t r = 0; r < g("logits").size(0); ++r) {
    EXPECT_EQ(sampler.sample(g("logits")[r], context(r)),
              g("logits")[r].argmax().item<std::int64_t>());
  }
}

TEST(TokenSamplerOptionsTest, RejectsOutOfRange) {
  auto bad = [](const std::function<void(SamplingOptions&)>& edit) {
    SamplingOptions o;
    edit(o);
    return o;
  };
  EXPECT_THROW(TokenSampler(bad([](auto& o) { o.temperature = 0; })), InvalidArgument);
  EXPECT_THROW(TokenSampler(bad([](auto& o) { o.top_p = 0; })), InvalidArgument);
  EXPECT_THROW(TokenSampler(bad([](auto& o) { o.min_p = 1.5; })), InvalidArgument);
  EXPECT_THROW(TokenSampler(bad([](auto& o) { o.top_k = -1; })), InvalidArgument);
  EXPECT_THROW(TokenSampler(bad([](auto& o) { o.repetition_penalty = 0; })), InvalidArgument);
  TokenSampler sampler(bad([](auto& o) { o.logit_bias = {{5000, 1.0}}; }));
  EXPECT_THROW(sampler.sample(at::zeros({10}), {}), InvalidArgument);
}

}  // namespace
}  // namespace duogen::sampling
