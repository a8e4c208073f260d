// Checkpoint::open on the three layouts (single file, sharded with an index, directory of files)
// and the errors that only arise across files. Broken indexes are in the malformed corpus.
#include "io/checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "duogen/error.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;
using testing::random_tensor;
using testing::Shard;
using testing::tensor_bytes;

std::vector<Shard> three_shards() {
  return {{"model-00001-of-00003.safetensors",
           {{"model.embed.weight", random_tensor(DType::kBF16, {8, 4}, 1)},
            {"model.layers.0.norm", random_tensor(DType::kF32, {4}, 2)}}},
          {"model-00002-of-00003.safetensors",
           {{"model.layers.1.norm", random_tensor(DType::kF32, {4}, 3)},
            {"visual.patch.weight", random_tensor(DType::kF16, {2, 3, 3}, 4)}}},
          {"model-00003-of-00003.safetensors",
           {{"lm_head.weight", random_tensor(DType::kBF16, {8, 4}, 5)},
            {"step", random_tensor(DType::kI64, {}, 6)}}}};
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("checkpoint"); }
  void TearDown() override { fs::remove_all(dir_); }

  // Expects `ck` to hold exactly the shards' tensors, each read back from its own shard.
  void expect_holds(const Checkpoint& ck, const std::vector<Shard>& shards) {
    std::vector<std::string> names;
    std::uint64_t bytes = 0;
    for (const auto& shard : shards) {
      for (const auto& [name, t] : shard.tensors) {
        SCOPED_TRACE(name);
        names.push_back(name);
        bytes += t.numel() * t.element_size();
        ASSERT_TRUE(ck.contains(name));
        EXPECT_EQ(ck.file_of(name).path(), dir_ / shard.file_name);
        EXPECT_EQ(ck.info(name).dtype, from_scalar_type(t.scalar_type()));
        const at::Tensor got = ck.tensor(name);
        EXPECT_EQ(got.sizes(), t.sizes());
        EXPECT_EQ(tensor_bytes(got), tensor_bytes(t));
      }
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(ck.names(), names);
    EXPECT_EQ(ck.size(), names.size());
    EXPECT_EQ(ck.total_bytes(), bytes);
    EXPECT_EQ(ck.files().size(), shards.size());
  }

  fs::path dir_;
};

TEST_F(CheckpointTest, OpensAShardedCheckpointThroughItsIndex) {
  const auto shards = three_shards();
  testing::write_checkpoint(dir_, shards, /*with_index=*/true);
  const auto ck = Checkpoint::open(dir_);
  EXPECT_EQ(ck.directory(), dir_);
  expect_holds(ck, shards);
  // In shard order, although the first tensor name (lm_head...) lives in the last shard.
  for (std::size_t i = 0; i < shards.size(); ++i) {
    EXPECT_EQ(ck.files()[i].path(), dir_ / shards[i].file_name);
  }
}

TEST_F(CheckpointTest, IgnoresTensorsTheIndexDoesNotList) {
  auto shards = three_shards();
  testing::write_checkpoint(dir_, shards, /*with_index=*/true);
  const auto listed = Checkpoint::open(dir_).names();
  // An extra shard the index does not name, and an extra tensor in a named shard.
  io::write_safetensors(dir_ / "stray.safetensors", {{"stray", random_tensor(DType::kU8, {1}, 7)}});
  auto& first = shards[0];
  first.tensors.emplace_back("unlisted", random_tensor(DType::kI8, {2}, 8));
  io::write_safetensors(dir_ / first.file_name, first.tensors);
  const auto ck = Checkpoint::open(dir_);
  EXPECT_FALSE(ck.contains("stray"));
  EXPECT_FALSE(ck.contains("unlisted"));
  EXPECT_EQ(ck.names(), listed);
}

TEST_F(CheckpointTest, OpensADirectoryOfFilesWithoutAnIndex) {
  const auto shards = three_shards();
  testing::write_checkpoint(dir_, shards, /*with_index=*/false);
  testing::write_bytes(dir_ / "config.json", "{}");  // other files are not shards
  expect_holds(Checkpoint::open(dir_), shards);
}

TEST_F(CheckpointTest, RejectsATensorInTwoFiles) {
  auto shards = three_shards();
  shards[2].tensors.push_back(shards[0].tensors[1]);
  testing::write_checkpoint(dir_, shards, /*with_index=*/false);
  try {
    Checkpoint::open(dir_);
    ADD_FAILURE() << "a tensor in two files was accepted";
  } catch (const FormatError& e) {
    const std::string what = e.what();
    for (const auto& part : {shards[0].tensors[1].first, shards[0].file_name, shards[2].file_name}) {
      EXPECT_NE(what.find(part), std::string::npos) << "missing " << part << " in: " << what;
    }
  }
}

TEST_F(CheckpointTest, OpensASingleFile) {
  const auto shards = three_shards();
  testing::write_checkpoint(dir_, {shards[1]}, /*with_index=*/false);
  const auto ck = Checkpoint::open(dir_ / shards[1].file_name);
  EXPECT_EQ(ck.directory(), dir_);
  expect_holds(ck, {shards[1]});
}

TEST_F(CheckpointTest, MetadataComesFromTheFirstFile) {
  io::write_safetensors(dir_ / "a.safetensors", {{"x", random_tensor(DType::kF32, {1}, 9)}},
                        {{"format", "pt"}});
  io::write_safetensors(dir_ / "b.safetensors", {{"y", random_tensor(DType::kF32, {1}, 10)}},
                        {{"format", "other"}});
  EXPECT_EQ(Checkpoint::open(dir_).metadata().at("format"), "pt");
}

TEST_F(CheckpointTest, ErrorsNameThePath) {
  const fs::path missing = dir_ / "missing";
  try {
    Checkpoint::open(missing);
    ADD_FAILURE() << "a missing path opened";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(Checkpoint::open(dir_), IoError);  // empty directory

  testing::write_checkpoint(dir_, {three_shards()[0]}, /*with_index=*/false);
  const auto ck = Checkpoint::open(dir_);
  EXPECT_EQ(ck.find("absent"), nullptr);
  EXPECT_THROW(ck.info("absent"), InvalidArgument);
  EXPECT_THROW(ck.tensor("absent"), InvalidArgument);
}

}  // namespace
}  // namespace duogen::io
