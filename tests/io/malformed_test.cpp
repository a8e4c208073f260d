// Malformed input: the corpus in tests/data/malformed (each entry must fail with the right error
// type and a message naming the file and tensor), and deterministic mutation fuzzing of a valid
// file (every open either succeeds with readable tensors or throws a duogen::Error).
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "duogen/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;
using testing::MalformedCase;

// Runs `open` and checks that it throws the case's error type with the expected message parts.
template <typename Open>
void expect_rejected(const MalformedCase& c, Open&& open) {
  try {
    open();
    ADD_FAILURE() << c.path << ": opened without error";
  } catch (const Error& e) {
    const std::string what = e.what();
    const bool right_type = c.error == "IoError"       ? dynamic_cast<const IoError*>(&e) != nullptr
                            : c.error == "FormatError" ? dynamic_cast<const FormatError*>(&e) != nullptr
                                                       : false;
    EXPECT_TRUE(right_type) << "expected " << c.error << ", got: " << what;
    EXPECT_NE(what.find(c.fragment), std::string::npos) << "missing '" << c.fragment << "' in: "
                                                         << what;
    for (const auto& name : c.names) {
      EXPECT_NE(what.find(name), std::string::npos) << "missing '" << name << "' in: " << what;
    }
  }
}

TEST(MalformedCorpus, EveryEntryIsRejectedWithAUsefulMessage) {
  const auto cases = testing::malformed_cases();
  // The generator writes dozens; a missing or truncated cases.json must not pass vacuously.
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    const fs::path path = testing::malformed_dir() / c.path;
    ASSERT_EQ(fs::is_directory(path), c.is_directory) << "corpus out of date? rerun the generator";
    if (!c.is_directory) expect_rejected(c, [&] { SafetensorsFile::open(path); });
    expect_rejected(c, [&] { Checkpoint::open(path); });
  }
}

// A small valid file exercising several dtypes, a scalar, an empty tensor and metadata.
std::string valid_file(const fs::path& dir) {
  const fs::path path = dir / "seed.safetensors";
  write_safetensors(path,
                    {{"a", testing::random_tensor(DType::kF32, {2, 3}, 1)},
                     {"b", testing::random_tensor(DType::kBF16, {4}, 2)},
                     {"c", testing::random_tensor(DType::kU8, {}, 3)},
                     {"d", testing::random_tensor(DType::kI64, {0, 2}, 4)},
                     {"e", testing::random_tensor(DType::kBool, {3}, 5)}},
                    {{"format", "pt"}});
  return testing::read_bytes(path);
}

constexpr std::string_view kInteresting("0129-.,[]{}\":e\xff\x00 ", 17);

// One random edit: mostly inside the header, where the parsing is.
std::string mutate(std::string bytes, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const std::size_t header_end = std::min<std::size_t>(bytes.size(), 8 + 160);
  switch (rng() % 7) {
    case 0:  // flip a bit
      if (!bytes.empty()) bytes[pick(header_end)] ^= static_cast<char>(1u << (rng() % 8));
      break;
    case 1:  // replace a byte by one that matters to JSON or to numbers
      if (!bytes.empty()) bytes[pick(header_end)] = kInteresting[pick(kInteresting.size())];
      break;
    case 2:  // truncate
      bytes.resize(pick(bytes.size() + 1));
      break;
    case 3:  // extend with random bytes
      for (std::size_t n = 1 + pick(16); n > 0; --n) bytes.push_back(static_cast<char>(rng()));
      break;
    case 4:  // overwrite a header-length byte
      if (!bytes.empty()) bytes[pick(std::min<std::size_t>(8, bytes.size()))] =
                              static_cast<char>(rng());
      break;
    case 5:  // replace a byte by a letter: keeps names valid, so some mutants open
      if (!bytes.empty()) bytes[pick(header_end)] = static_cast<char>('a' + rng() % 26);
      break;
    default:  // delete a byte
      if (!bytes.empty()) bytes.erase(pick(header_end), 1);
  }
  return bytes;
}

TEST(MalformedFuzz, MutatedFilesOpenOrThrowDuogenErrors) {
  const fs::path dir = testing::make_temp_dir("fuzz");
  const std::string seed_bytes = valid_file(dir);
  const fs::path path = dir / "mutant.safetensors";
  std::mt19937_64 rng(20240611);
  int opened = 0;
  int rejected = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = seed_bytes;
    for (int edits = 1 + static_cast<int>(rng() % 2); edits > 0; --edits) bytes = mutate(bytes, rng);
    testing::write_bytes(path, bytes);
    try {
      const auto file = SafetensorsFile::open(path);
      for (const auto& info : file.tensors()) {
        const at::Tensor t = file.tensor(info.name);
        ASSERT_EQ(static_cast<std::uint64_t>(t.numel() * t.element_size()), info.nbytes);
        // Reading every byte catches a view that reaches past the mapping.
        ASSERT_EQ(testing::tensor_bytes(t), bytes.substr(info.begin, info.nbytes))
            << "iteration " << i << ", tensor " << info.name;
      }
      ++opened;
    } catch (const Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << i << ": non-duogen exception: " << e.what();
    }
  }
  fs::remove_all(dir);
  // Both outcomes must occur, or the mutations are not exercising the reader. (Most edits break
  // the file; with this seed about 1.5% of mutants still open.)
  EXPECT_GE(opened, 30);
  EXPECT_GE(rejected, 2000);
  RecordProperty("opened", opened);
  RecordProperty("seconds", static_cast<int>(std::chrono::duration<double>(
                                                 std::chrono::steady_clock::now() - start)
                                                 .count()));
}

}  // namespace
}  // namespace duogen::io
