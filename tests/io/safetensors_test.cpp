// SafetensorsFile and write_safetensors on well-formed files: round trips, the zero-copy and
// copying read paths, atomic writes and writer errors. Malformed input is in malformed_test.cpp.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <fmt/ranges.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;
using testing::random_tensor;
using testing::tensor_bytes;

std::vector<DType> all_dtypes() {
  std::vector<DType> out;
  for (int i = 0; i <= static_cast<int>(DType::kBool); ++i) out.push_back(static_cast<DType>(i));
  return out;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("safetensors"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Expects `file` to hold exactly `expected`, each with the same dtype, shape and bytes.
void expect_same_tensors(const SafetensorsFile& file, const NamedTensors& expected) {
  ASSERT_EQ(file.tensors().size(), expected.size());
  for (const auto& [name, want] : expected) {
    SCOPED_TRACE(name);
    const at::Tensor got = file.tensor(name);
    EXPECT_EQ(got.scalar_type(), want.scalar_type());
    EXPECT_EQ(got.sizes(), want.sizes());
    EXPECT_EQ(tensor_bytes(got), tensor_bytes(want));
  }
}

TEST_F(SafetensorsTest, RoundTripsEveryDtypeAndShape) {
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {0}, {7}, {3, 0, 2}, {2, 3, 5}};
  NamedTensors tensors;
  std::uint64_t seed = 1;
  for (DType dtype : all_dtypes()) {
    for (const auto& shape : shapes) {
      const std::string name = fmt::format("{}.{}", safetensors_name(dtype), fmt::join(shape, "x"));
      tensors.emplace_back(name, random_tensor(dtype, shape, seed++));
    }
  }
  const fs::path path = dir_ / "all.safetensors";
  write_safetensors(path, tensors);
  const auto file = SafetensorsFile::open(path);
  expect_same_tensors(file, tensors);
  std::uint64_t end = 0;
  for (const auto& info : file.tensors()) {
    EXPECT_GE(info.begin, end) << info.name << ": tensors() is not in offset order";
    end = info.begin + info.nbytes;
    EXPECT_EQ(info.nbytes, static_cast<std::uint64_t>(info.numel()) * element_size(info.dtype))
        << info.name;
  }
  EXPECT_EQ(file.file_size(), fs::file_size(path));
}

TEST_F(SafetensorsTest, RoundTripsMetadata) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"empty", ""}, {"unicode", "h\u00e9llo \u4e16\u754c"}, {"quote", "a\"b\n"}};
  const fs::path path = dir_ / "meta.safetensors";
  write_safetensors(path, {{"w", random_tensor(DType::kF32, {2}, 1)}}, metadata);
  EXPECT_EQ(SafetensorsFile::open(path).metadata(), metadata);

  write_safetensors(path, {}, metadata);  // metadata and no tensors at all
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  EXPECT_TRUE(file.tensors().empty());
}

TEST_F(SafetensorsTest, HeaderIsPaddedToEightBytes) {
  for (int name_len = 1; name_len <= 8; ++name_len) {
    const fs::path path = dir_ / "pad.safetensors";
    write_safetensors(path, {{std::string(name_len, 'w'), random_tensor(DType::kF64, {3}, 1)}});
    const std::string bytes = testing::read_bytes(path);
    std::uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);  // little-endian host
    EXPECT_EQ(header_len % 8, 0u) << name_len;
    EXPECT_EQ(SafetensorsFile::open(path).tensors()[0].begin % 8, 0u) << name_len;
  }
}

TEST_F(SafetensorsTest, TensorsViewTheMappingWithoutCopying) {
  const NamedTensors tensors = {{"a", random_tensor(DType::kF32, {4}, 1)},
                                {"b", random_tensor(DType::kF32, {3}, 2)}};
  const fs::path path = dir_ / "view.safetensors";
  write_safetensors(path, tensors);
  at::Tensor a;
  at::Tensor b;
  {
    const auto file = SafetensorsFile::open(path);
    a = file.tensor("a");
    b = file.tensor("b");
  }  // the tensors keep the mapping alive
  // Adjacent in the file, adjacent in memory: both view the one mapping.
  EXPECT_EQ(static_cast<const char*>(a.data_ptr()) + 16, static_cast<const char*>(b.data_ptr()));
  EXPECT_EQ(tensor_bytes(a), tensor_bytes(tensors[0].second));

  // Copy-on-write: writing through the view changes neither the file nor a fresh mapping of it.
  const std::string before = testing::read_bytes(path);
  std::memset(a.data_ptr(), 0x5a, 16);
  EXPECT_EQ(testing::read_bytes(path), before);
  EXPECT_EQ(tensor_bytes(SafetensorsFile::open(path).tensor("a")), tensor_bytes(tensors[0].second));
}

TEST_F(SafetensorsTest, CopiesDataNotAlignedToTheElementSize) {
  // The header is padded to 8 bytes, so the data section starts aligned; one U8 byte first then
  // puts the F32 at data offset 1 and the F64 at 21: odd addresses, as the mapping is page-aligned.
  const at::Tensor f = random_tensor(DType::kF32, {5}, 3);
  const at::Tensor d = random_tensor(DType::kF64, {2}, 4);
  nlohmann::json header = {
      {"u", {{"dtype", "U8"}, {"shape", {1}}, {"data_offsets", {0, 1}}}},
      {"f", {{"dtype", "F32"}, {"shape", {5}}, {"data_offsets", {1, 21}}}},
      {"d", {{"dtype", "F64"}, {"shape", {2}}, {"data_offsets", {21, 37}}}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const fs::path path = dir_ / "odd.safetensors";
  testing::write_bytes(path, testing::safetensors_bytes(text, "\x7f" + tensor_bytes(f) +
                                                                  tensor_bytes(d)));
  const auto file = SafetensorsFile::open(path);
  for (const auto& [name, want] : NamedTensors{{"f", f}, {"d", d}}) {
    SCOPED_TRACE(name);
    ASSERT_NE(file.info(name).begin % want.element_size(), 0u) << "the case must be unaligned";
    const at::Tensor got = file.tensor(name);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(got.data_ptr()) % got.element_size(), 0u);
    EXPECT_EQ(tensor_bytes(got), tensor_bytes(want));
  }
  EXPECT_EQ(file.tensor("u").item<std::uint8_t>(), 0x7f);
}

TEST_F(SafetensorsTest, StoresNonContiguousTensorsInLogicalOrder) {
  const at::Tensor t = random_tensor(DType::kI32, {3, 4}, 5);
  const at::Tensor transposed = t.t();
  ASSERT_FALSE(transposed.is_contiguous());
  const fs::path path = dir_ / "t.safetensors";
  write_safetensors(path, {{"t", transposed}});
  const at::Tensor got = SafetensorsFile::open(path).tensor("t");
  EXPECT_EQ(got.sizes(), transposed.sizes());
  EXPECT_EQ(tensor_bytes(got), tensor_bytes(transposed));
}

TEST_F(SafetensorsTest, WritesAtomicallyAndReplacesWholeFiles) {
  const fs::path path = dir_ / "model.safetensors";
  const NamedTensors big = {{"big", random_tensor(DType::kU8, {4096}, 6)}};
  const NamedTensors small = {{"small", random_tensor(DType::kI16, {3}, 7)}};
  write_safetensors(path, big);
  const auto old_file = SafetensorsFile::open(path);
  write_safetensors(path, small);

  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << "a temporary file was left behind";
  const auto new_file = SafetensorsFile::open(path);
  expect_same_tensors(new_file, small);
  EXPECT_EQ(new_file.file_size(), fs::file_size(path));
  // The new file came in by rename, so a reader of the old one still sees it intact (an in-place
  // rewrite would have changed or truncated the pages under it).
  expect_same_tensors(old_file, big);
}

TEST_F(SafetensorsTest, WriterRejectsBadInputWithoutLeavingFiles) {
  const at::Tensor t = random_tensor(DType::kF32, {2}, 8);
  const fs::path path = dir_ / "bad.safetensors";
  EXPECT_THROW(write_safetensors(path, {{"a", t}, {"b", t}, {"a", t}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", t}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"u", at::Tensor()}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"bad\xff", t}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"a", t}}, {{"k", "bad\xff"}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(path, {{"c", t.view(c10::ScalarType::ComplexHalf)}}),
               InvalidArgument);
  EXPECT_TRUE(fs::is_empty(dir_));
  try {
    write_safetensors(dir_ / "no" / "such" / "dir.safetensors", {{"a", t}});
    ADD_FAILURE() << "writing into a missing directory succeeded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("dir.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, LookupOfAMissingTensorNamesTheFile) {
  const fs::path path = dir_ / "one.safetensors";
  write_safetensors(path, {{"w", random_tensor(DType::kF32, {1}, 9)}});
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.find("nope"), nullptr);
  ASSERT_NE(file.find("w"), nullptr);
  try {
    file.tensor("nope");
    ADD_FAILURE() << "no error for a missing tensor";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("one.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, OpeningAMissingFileIsAnIoError) {
  EXPECT_THROW(SafetensorsFile::open(dir_ / "absent.safetensors"), IoError);
  EXPECT_THROW(SafetensorsFile::open(dir_), IoError);  // a directory
}

TEST_F(SafetensorsTest, BoolBytesOtherThanZeroOrOneAreRejectedOnRead) {
  const fs::path path = dir_ / "bool.safetensors";
  testing::write_bytes(path, testing::safetensors_bytes(
                        R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                        std::string("\x01\x00\x02", 3)));
  const auto file = SafetensorsFile::open(path);
  try {
    file.tensor("b");
    ADD_FAILURE() << "no error for BOOL byte 2";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'b'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("element 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace duogen::io
