// The reference-parity harness end to end: goldens dumped by transformers
// (tools/reference/regenerate_goldens.sh) against duogen's implementation.
#include "verify/verifier.h"

#include "verify/reference_dump.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "duogen/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "testing/test_paths.h"

namespace duogen::verify {
namespace {

std::filesystem::path tiny_model() { return testing::data_dir() / "tiny-qwen2_5_vl"; }
std::filesystem::path golden(const std::string& dtype) {
  return testing::data_dir() / ("reference/qwen2_5_vl.text_embed_norm." + dtype + ".safetensors");
}

VerifyReport verify(const std::filesystem::path& model, const std::filesystem::path& dump,
                    std::optional<double> rtol = std::nullopt) {
  VerifyOptions options;
  options.model = model;
  options.reference = dump;
  options.rtol = rtol;
  return run_verify(options);
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("verify"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(VerifyTest, EmbedNormMatchesTransformersInFp32AndBf16) {
  for (const char* dtype : {"float32", "bfloat16"}) {
    SCOPED_TRACE(dtype);
    const VerifyReport r = verify(tiny_model(), golden(dtype));
    EXPECT_EQ(r.component, "qwen2_5_vl.text_embed_norm");
    EXPECT_EQ(r.dtype, dtype);
    ASSERT_EQ(r.outputs.size(), 2u);
    for (const auto& c : r.outputs) {
      EXPECT_TRUE(c.passed) << c.name << " rel " << c.rel_error;
      EXPECT_LE(c.rel_error, r.rtol);
    }
    EXPECT_TRUE(r.passed());
  }
}

// Rewrites a dump with one expected tensor changed, to show the comparison can fail.
TEST_F(VerifyTest, APerturbedExpectationFails) {
  const auto original = io::SafetensorsFile::open(golden("float32"));
  io::NamedTensors tensors;
  for (const auto& info : original.tensors()) {
    at::Tensor t = original.tensor(info).clone();
    if (info.name == "expected.layer0_input_norm") t.view(-1)[5] += 1e-3;
    tensors.emplace_back(info.name, t);
  }
  const auto dump = dir_ / "perturbed.safetensors";
  io::write_safetensors(dump, tensors, original.metadata());
  const VerifyReport r = verify(tiny_model(), dump);
  EXPECT_FALSE(r.passed());
  for (const auto& c : r.outputs) {
    if (c.name == "layer0_input_norm") {
      EXPECT_FALSE(c.passed);
      EXPECT_NEAR(c.max_abs_error, 1e-3, 1e-6);
    } else {
      EXPECT_TRUE(c.passed);
    }
  }
  // A loose enough tolerance accepts it again.
  EXPECT_TRUE(verify(tiny_model(), dump, 1e-2).passed());
}

// The same weights under the `model.language_model.*` / `model.visual.*` names newer
// transformers write must give identical results.
TEST_F(VerifyTest, TheNewTransformersLayoutGivesTheSameResult) {
  const auto ck = io::Checkpoint::open(tiny_model());
  io::NamedTensors renamed;
  for (const auto& name : ck.names()) {
    std::string n = name;
    if (n.starts_with("model.")) n = "model.language_model." + n.substr(6);
    if (n.starts_with("visual.")) n = "model." + n;
    renamed.emplace_back(n, ck.tensor(name));
  }
  io::write_safetensors(dir_ / "model.safetensors", renamed);
  std::filesystem::copy_file(tiny_model() / "config.json", dir_ / "config.json");
  const VerifyReport r = verify(dir_, golden("float32"));
  EXPECT_TRUE(r.passed());
  for (const auto& c : r.outputs) EXPECT_EQ(c.max_abs_error, 0.0) << c.name;
}

TEST_F(VerifyTest, RejectsFilesThatAreNotDumps) {
  // A checkpoint shard is valid safetensors but not a dump.
  const auto shard = io::Checkpoint::open(tiny_model()).files().front().path();
  EXPECT_THROW(verify(tiny_model(), shard), FormatError);
  io::write_safetensors(dir_ / "unknown.safetensors", {{"expected.x", at::zeros({1})}},
                        {{"format", kDumpFormat}, {"component", "no.such.component"}});
  EXPECT_THROW(verify(tiny_model(), dir_ / "unknown.safetensors"), InvalidArgument);
  io::write_safetensors(dir_ / "noinput.safetensors", {{"expected.embeds", at::zeros({1})}},
                        {{"format", kDumpFormat}, {"component", "qwen2_5_vl.text_embed_norm"}});
  EXPECT_THROW(verify(tiny_model(), dir_ / "noinput.safetensors"), FormatError);
}

TEST(Compare, MetricsAreNormRatiosAndNaNNeverPasses) {
  const at::Tensor e = at::tensor({3.0, 4.0});
  const Comparison c = compare("x", at::tensor({3.0, 4.5}), e, 0.2);
  EXPECT_DOUBLE_EQ(c.max_abs_error, 0.5);
  EXPECT_DOUBLE_EQ(c.rel_error, 0.5 / 5.0);
  EXPECT_TRUE(c.passed);
  EXPECT_FALSE(compare("x", at::tensor({3.0, NAN}), e, 1e9).passed);
  EXPECT_FALSE(compare("x", at::tensor({3.0}), e, 1e9).shape_ok);
}

}  // namespace
}  // namespace duogen::verify
