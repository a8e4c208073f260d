// The measured attention table file (runtime/attention_table.h): what bench_kernels writes reads
// back into the same dispatch order, and every malformed field is refused by name.
#include "runtime/attention_table.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "duogen/error.h"
#include "testing/test_paths.h"

namespace duogen::runtime {
namespace {

namespace fs = std::filesystem;
using ops::AttentionBackend;
using ops::AttentionSite;

AttentionTable sample() {
  AttentionTable t;
  t.device = "NVIDIA H100 80GB HBM3";
  t.compute_capability = "9.0";
  ops::AttentionMeasurement m{.site = AttentionSite::kLlmPrefillCached,
                              .dtype = c10::kBFloat16,
                              .head_dim = 128,
                              .causal = true,
                              .varlen = false,
                              .seqlen_q = 256,
                              .seqlen_k = 4096,
                              .ms = {}};
  m.ms = {{AttentionBackend::kSdpaFlash, 0.125}, {AttentionBackend::kFlashKernel, 0.25}};
  ops::AttentionMeasurement w{.site = AttentionSite::kVitWindow,
                              .dtype = c10::kHalf,
                              .head_dim = 80,
                              .causal = false,
                              .varlen = true,
                              .seqlen_q = 64,
                              .seqlen_k = 64,
                              .ms = {}};
  w.ms = {{AttentionBackend::kFlashKernel, 0.5}};
  t.measurements = {m, w};
  return t;
}

std::string error_of(const fs::path& path) {
  try {
    read_attention_table(path);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

class AttentionTableFile : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = duogen::testing::make_temp_dir("attention-table"); }
  void TearDown() override { fs::remove_all(dir_); }
  // The sample table's JSON with `from` replaced by `to`, written to a file.
  fs::path edited(const std::string& from, const std::string& to) {
    std::string json = to_json(sample());
    const auto at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    json.replace(at, from.size(), to);
    const fs::path p = dir_ / "table.json";
    std::ofstream(p) << json;
    return p;
  }
  fs::path dir_;
};

TEST_F(AttentionTableFile, WhatIsWrittenReadsBackIntoTheSameOrder) {
  const fs::path p = dir_ / "table.json";
  write_attention_table(p, sample());
  const AttentionTable back = read_attention_table(p);
  EXPECT_EQ(back.device, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(back.compute_capability, "9.0");
  ASSERT_EQ(back.measurements.size(), 2u);
  EXPECT_EQ(back.measurements[0].site, AttentionSite::kLlmPrefillCached);
  EXPECT_EQ(back.measurements[0].ms, sample().measurements[0].ms);
  EXPECT_EQ(back.measurements[1].dtype, c10::kHalf);
  EXPECT_TRUE(back.measurements[1].varlen);
  EXPECT_EQ(to_json(back), to_json(sample()));

  const ops::AttentionDispatch dispatch(back.measurements);
  ops::AttentionProblem p_cached;
  p_cached.site = AttentionSite::kLlmPrefillCached;
  p_cached.dtype = c10::kBFloat16;
  p_cached.heads_q = 28;
  p_cached.heads_kv = 4;
  p_cached.seqlen_q = 300;
  p_cached.seqlen_k = 5000;
  p_cached.head_dim = 128;
  p_cached.causal = true;
  const ops::DeviceCaps h100{.cuda = true, .cc_major = 9, .cc_minor = 0, .kernels_built = true};
  const auto order = dispatch.order(p_cached, h100);
  ASSERT_GE(order.size(), 2u);
  EXPECT_EQ(order[0], AttentionBackend::kSdpaFlash);
  EXPECT_EQ(order[1], AttentionBackend::kFlashKernel);
}

TEST_F(AttentionTableFile, MalformedFieldsAreRefusedByName) {
  const struct {
    std::string from, to, message;
  } cases[] = {
      {"\"site\": \"llm_prefill_cached\"", "\"site\": \"llm_prefil\"", "measurements[0].site"},
      {"\"sdpa_flash\": 0.125", "\"flash3\": 0.125", "measurements[0].ms.flash3"},
      {"\"sdpa_flash\": 0.125", "\"sdpa_flash\": -1", "measurements[0].ms.sdpa_flash"},
      {"\"dtype\": \"fp16\"", "\"dtype\": \"int8\"", "measurements[1].dtype"},
      {"\"head_dim\": 80", "\"head_dim\": 0", "measurements[1].head_dim"},
      {"\"causal\": true", "\"causal\": 1", "measurements[0].causal"},
      {"\"seqlen_k\": 4096", "\"seqlen_k\": 4096, \"window\": 3", "measurements[0].window"},
      {"\"version\": 1", "\"version\": 2", "'version'"},
      {"\"format\": \"duogen-attention-table\"", "\"format\": \"other\"", "'format'"},
      {"\"device\": ", "\"gpu\": 1, \"device\": ", "'gpu'"},
  };
  for (const auto& c : cases) {
    const fs::path p = edited(c.from, c.to);
    const std::string e = error_of(p);
    EXPECT_NE(e.find(p.string()), std::string::npos) << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << c.to << " -> " << e;
  }
}

TEST_F(AttentionTableFile, MissingAndTruncatedFilesAreErrors) {
  EXPECT_THROW(read_attention_table(dir_ / "absent.json"), IoError);
  const std::string json = to_json(sample());
  const fs::path p = dir_ / "truncated.json";
  std::ofstream(p) << json.substr(0, json.size() / 2);
  EXPECT_THROW(read_attention_table(p), FormatError);
}

}  // namespace
}  // namespace duogen::runtime
