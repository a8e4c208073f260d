// `duogen verify` as a user runs it: exit 0 within tolerance, 1 outside it or on bad files,
// 2 on usage errors; the text and JSON reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "testing/process.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;

testing::ProcessResult duogen(std::vector<std::string> args) {
  return testing::run_duogen(std::move(args));
}

std::string tiny_model() { return (testing::data_dir() / "tiny-qwen2_5_vl").string(); }
std::string golden(const char* dtype) {
  return (testing::data_dir() / "reference" /
          (std::string("qwen2_5_vl.text_embed_norm.") + dtype + ".safetensors"))
      .string();
}

TEST(VerifyCli, PassesOnTheTransformersGoldens) {
  for (const char* dtype : {"float32", "bfloat16"}) {
    const auto r = duogen({"verify", "--model", tiny_model(), "--reference", golden(dtype)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("layer0_input_norm"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(dtype), std::string::npos) << r.out;
  }
}

TEST(VerifyCli, FailsWithExitOneOutsideTolerance) {
  const fs::path dir = testing::make_temp_dir("verify-cli");
  const auto original = io::SafetensorsFile::open(golden("float32"));
  io::NamedTensors tensors;
  for (const auto& info : original.tensors()) {
    at::Tensor t = original.tensor(info).clone();
    if (info.name == "expected.embeds") t.mul_(1.01);  // 1% off: above the 1e-5 fp32 tolerance
    tensors.emplace_back(info.name, t);
  }
  const fs::path dump = dir / "off.safetensors";
  io::write_safetensors(dump, tensors, original.metadata());

  const auto r = duogen({"verify", "--model", tiny_model(), "--reference", dump.string(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_FALSE(report["passed"].get<bool>());
  for (const auto& o : report["outputs"]) {
    const bool is_embeds = o["name"] == "embeds";
    EXPECT_EQ(o["passed"].get<bool>(), !is_embeds) << o.dump();
    if (is_embeds) {
      EXPECT_NEAR(o["rel_error"].get<double>(), 0.01 / 1.01, 1e-6);
    }
  }
  // The same dump passes when the user loosens the tolerance.
  EXPECT_EQ(duogen({"verify", "--model", tiny_model(), "--reference", dump.string(), "--rtol",
                    "0.05"})
                .exit_code,
            0);
  fs::remove_all(dir);
}

TEST(VerifyCli, BadInputsAreReported) {
  const std::string missing = "/nonexistent/dump.safetensors";
  auto r = duogen({"verify", "--model", tiny_model(), "--reference", missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  r = duogen({"verify", "--model", "/nonexistent/model", "--reference", golden("float32")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model"), std::string::npos) << r.err;
  EXPECT_EQ(duogen({"verify", "--model", tiny_model()}).exit_code, 2);  // no --reference
  EXPECT_EQ(duogen({"verify", "--model", tiny_model(), "--reference", golden("float32"),
                    "--rtol", "-1"})
                .exit_code,
            2);
}

TEST(VerifyCli, LogLevelOffStillPrintsTheReasonForAFailure) {
  const std::string missing = "/nonexistent/dump.safetensors";
  const auto r = duogen({"-v", "off", "verify", "--model", tiny_model(), "--reference", missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
}

TEST(VerifyCli, EverySubcommandHasHelp) {
  for (const char* cmd : {"inspect", "verify", "tokenize", "vae"}) {
    const auto r = duogen({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_NE(r.out.find("--"), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace duogen
