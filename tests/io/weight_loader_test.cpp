#include "io/weight_loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "duogen/error.h"
#include "io/safetensors.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

class WeightLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("weights"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::shared_ptr<const Checkpoint> write(const NamedTensors& tensors) {
    write_safetensors(dir_ / "model.safetensors", tensors);
    return std::make_shared<Checkpoint>(Checkpoint::open(dir_));
  }

  std::filesystem::path dir_;
};

// Resident bytes of the mapping holding `address`, from /proc/self/smaps.
std::uint64_t resident_bytes_of_mapping(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = a >= begin && a < end;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) return std::stoull(line.substr(4)) * 1024;
  }
  return 0;
}

// Loading in the checkpoint's dtype hands out views of the mapping (no copy); converting copies
// once and then drops the mapped pages, so the mapping and the copy are not both resident. The
// mapped data stays readable afterwards (a later access reads the file again).
TEST_F(WeightLoaderTest, ConvertingDropsTheMappedPagesAndViewsCopyNothing) {
  const at::Tensor w = at::randn({1024, 1024});  // 4 MiB: whole pages
  auto checkpoint = write({{"w", w}});
  const at::Tensor mapped = checkpoint->tensor("w");
  WeightStore same(checkpoint, {});
  EXPECT_EQ(same.root().get("w", {1024, 1024}).data_ptr(), mapped.data_ptr());

  EXPECT_EQ(mapped.sum().item<float>(), w.sum().item<float>());  // touches every page
  EXPECT_GE(resident_bytes_of_mapping(mapped.data_ptr()), 4u << 20);
  WeightLoadOptions to_bf16;
  to_bf16.dtype = at::kBFloat16;
  WeightStore converting(checkpoint, to_bf16);
  const at::Tensor converted = converting.root().get("w", {1024, 1024});
  EXPECT_EQ(converted.scalar_type(), at::kBFloat16);
  // Only the pages the 4 MiB tensor shares with the header may stay.
  EXPECT_LE(resident_bytes_of_mapping(mapped.data_ptr()), 2u * 4096);
  EXPECT_TRUE(at::equal(mapped, w));
  EXPECT_TRUE(at::equal(converted, w.to(at::kBFloat16)));
}

TEST_F(WeightLoaderTest, PrefixViewsReturnTheStoredValues) {
  const at::Tensor w = at::arange(6, at::kFloat).reshape({2, 3});
  WeightStore store(write({{"model.layers.0.attn.weight", w}}), {});
  const at::Tensor got = store.root().sub("model").sub("layers.0").get("attn.weight", {2, 3});
  ASSERT_TRUE(got.defined());
  EXPECT_TRUE(at::equal(got, w));
  EXPECT_NO_THROW(store.finish("test"));
  EXPECT_TRUE(store.unused().empty());
}

TEST_F(WeightLoaderTest, ReportsEveryProblemInOneError) {
  WeightStore store(write({{"a.weight", at::zeros({4, 4})}, {"b.weight", at::zeros({3})}}), {});
  auto root = store.root();
  EXPECT_FALSE(root.get("a.weight", {4, 5}).defined());    // wrong shape
  EXPECT_FALSE(root.get("missing.weight", {1}).defined());  // absent
  EXPECT_FALSE(root.get("b.weight", {3}, at::kHalf).defined());  // wrong dtype
  ASSERT_EQ(store.problems().size(), 3u);
  try {
    store.finish("TinyModel");
    FAIL() << "finish did not throw";
  } catch (const WeightError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("TinyModel"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 problem(s)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'a.weight' has shape 4, 4 but the model expects 4, 5"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("missing tensor 'missing.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'b.weight' has dtype Float but the model expects Half"), std::string::npos)
        << msg;
  }
}

TEST_F(WeightLoaderTest, OptionalAbsenceIsNotAProblemAndWildcardsMatch) {
  WeightStore store(write({{"x", at::zeros({5, 7})}}), {});
  EXPECT_FALSE(store.root().get_optional("bias", {7}).defined());
  EXPECT_TRUE(store.root().get("x", {kAnySize, 7}).defined());
  EXPECT_NO_THROW(store.finish("test"));
}

TEST_F(WeightLoaderTest, UnusedTensorsAreListedExceptIgnoredSuffixes) {
  WeightLoadOptions options;
  options.ignored_suffixes = {".inv_freq"};
  WeightStore store(write({{"used", at::zeros({1})},
                           {"extra.weight", at::zeros({1})},
                           {"rotary.inv_freq", at::zeros({1})}}),
                    options);
  store.root().get("used", {1});
  EXPECT_EQ(store.unused(), std::vector<std::string>{"extra.weight"});
  EXPECT_NO_THROW(store.finish("test"));  // unused tensors warn, they do not fail
}

TEST_F(WeightLoaderTest, AliasesMapAlternativeLayoutsToCanonicalNames) {
  WeightLoadOptions options;
  options.aliases = {{"model.", "model.language_model."}, {"visual.", "model.visual."}};
  const at::Tensor e = at::randn({4, 2});
  const at::Tensor v = at::randn({3});
  WeightStore store(write({{"model.language_model.embed_tokens.weight", e},
                           {"model.visual.merger.ln_q.weight", v},
                           {"lm_head.weight", e}}),
                    options);
  EXPECT_TRUE(at::equal(store.root().sub("model").get("embed_tokens.weight", {4, 2}), e));
  EXPECT_TRUE(at::equal(store.root().get("visual.merger.ln_q.weight", {3}), v));
  EXPECT_TRUE(store.root().contains("lm_head.weight"));
  EXPECT_EQ(store.unused(), std::vector<std::string>{"lm_head.weight"});
}

TEST_F(WeightLoaderTest, TwoNamesForOneCanonicalTensorIsAnError) {
  WeightLoadOptions options;
  options.aliases = {{"model.", "model.language_model."}};
  auto ck = write({{"model.norm.weight", at::zeros({2})},
                   {"model.language_model.norm.weight", at::zeros({2})}});
  EXPECT_THROW(WeightStore(ck, options), FormatError);
}

TEST_F(WeightLoaderTest, ConvertsFloatingTensorsOnlyWhenAsked) {
  WeightLoadOptions options;
  options.dtype = at::kBFloat16;
  const at::Tensor f = at::randn({8});
  const at::Tensor i = at::arange(8, at::kLong);
  WeightStore store(write({{"f", f}, {"i", i}}), options);
  const at::Tensor got_f = store.root().get("f", {8});
  const at::Tensor got_i = store.root().get("i", {8});
  EXPECT_EQ(got_f.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(got_f, f.to(at::kBFloat16)));
  EXPECT_EQ(got_i.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(got_i, i));
}

}  // namespace
}  // namespace duogen::io

namespace duogen::io {
namespace {

// A materialising store hands out initialised tensors for required gets, records them in
// request order, and reports wildcard shapes as problems.
TEST(MaterializingStore, RecordsWhatTheModelAsksFor) {
  WeightLoadOptions options;
  options.dtype = c10::kBFloat16;
  WeightStore store = WeightStore::materializing(
      [](const std::string&, c10::IntArrayRef shape) { return at::ones(shape); }, options);
  auto layer = store.root().sub("layers.0");
  const at::Tensor w = layer.get("weight", {3, 2});
  EXPECT_EQ(w.scalar_type(), c10::kBFloat16);
  EXPECT_FALSE(layer.get_optional("bias", {3}).defined());
  EXPECT_FALSE(layer.contains("weight"));
  layer.get("scale", {4});
  store.finish("test");
  ASSERT_EQ(store.materialized().size(), 2u);
  EXPECT_EQ(store.materialized()[0].first, "layers.0.weight");
  EXPECT_EQ(store.materialized()[1].first, "layers.0.scale");
  EXPECT_THROW(store.checkpoint(), InvalidArgument);
  store.root().get("any", {kAnySize, 2});
  EXPECT_THROW(store.finish("test"), WeightError);
}

}  // namespace
}  // namespace duogen::io
