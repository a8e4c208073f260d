// duogen.json: components, defaults, and the errors for missing or mistyped parts.
#include "pipeline/manifest.h"

#include <gtest/gtest.h>

#include "duogen/error.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("manifest");
    for (const char* sub : {"mllm", "dit", "vae"}) fs::create_directories(dir_ / sub);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string error_for(const std::string& json) const {
    testing::write_bytes(dir_ / "duogen.json", json);
    try {
      read_manifest(dir_);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for " << json;
    return "";
  }

  fs::path dir_;
};

constexpr const char* kParts = R"("mllm": "mllm", "dit": "dit", "vae": "vae")";

TEST_F(ManifestTest, ReadsComponentsAndMergesDefaults) {
  testing::write_bytes(dir_ / "duogen.json",
                       std::string("{") + kParts +
                           R"(, "bov_token_id": 151652, "cfg_negative": "zero_context",
                              "condition_timestep": 0.0001, "network_time": "sigma",
                              "defaults": {"steps": 20}})");
  const ModelManifest m = read_manifest(dir_);
  EXPECT_EQ(m.mllm, (fs::absolute(dir_) / "mllm").lexically_normal());
  EXPECT_EQ(m.tokenizer, m.mllm);  // defaults to the MLLM directory
  EXPECT_EQ(m.bov_token_id, 151652);
  EXPECT_EQ(m.cfg_negative, CfgNegative::kZeroContext);
  EXPECT_EQ(m.condition_timestep, 0.0001);
  EXPECT_EQ(m.network_time, sampling::flow::NetworkTime::kSigma);
  EXPECT_EQ(m.defaults.steps, 20);                       // from the file
  EXPECT_EQ(m.defaults.guidance, builtin_defaults().guidance);  // built in
  EXPECT_EQ(m.mllm_max_side, 480);
}

TEST_F(ManifestTest, ErrorsNameTheFileAndKey) {
  const std::string p = std::string(kParts) + ", ";
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {R"({"mllm": "mllm", "dit": "dit"})", {"duogen.json", "'vae'"}},
      {R"({"mllm": "nope", "dit": "dit", "vae": "vae"})", {"'mllm'", "nope", "does not exist"}},
      {"{" + p + R"("cfg_negativ": "x"})", {"unknown key 'cfg_negativ'"}},
      {"{" + p + R"("cfg_negative": "x"})", {"cfg_negative", "'x'"}},
      {"{" + p + R"("noise": "philox"})", {"'noise'"}},
      {"{" + p + R"("network_time": "seconds"})", {"'network_time'", "'seconds'"}},
      {"{" + p + R"("mllm_max_side": 10})", {"'mllm_max_side'"}},
      {"{" + p + R"("defaults": {"steps": -1}})", {"'defaults'", "'steps'"}},
      {"{" + p + R"("format": "duogen-model-v9"})", {"'format'"}},
      {"{" + p + R"("eov_token_id": 151665})", {"distinct"}},
  };
  for (const auto& [json, fragments] : cases) {
    const std::string message = error_for(json);
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "'" << message << "' lacks '" << fragment << "'";
    }
  }
  EXPECT_THROW(read_manifest(dir_ / "mllm"), IoError);  // a directory without duogen.json
}

TEST_F(ManifestTest, ComponentsCanBeGivenSeparately) {
  const ModelManifest m =
      resolve_components(std::nullopt, dir_ / "mllm", dir_ / "dit", dir_ / "vae", std::nullopt);
  EXPECT_EQ(m.dit, dir_ / "dit");
  EXPECT_EQ(m.tokenizer, dir_ / "mllm");
  EXPECT_EQ(m.defaults.steps, 35);
  EXPECT_EQ(m.network_time, sampling::flow::NetworkTime::kTimestep);  // Cosmos' convention
  try {
    resolve_components(std::nullopt, dir_ / "mllm", std::nullopt, dir_ / "vae", std::nullopt);
    ADD_FAILURE() << "no error without a DiT";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--dit"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_components(std::nullopt, dir_ / "mllm", dir_ / "nope", dir_ / "vae",
                                  std::nullopt),
               UsageError);
}

}  // namespace
}  // namespace duogen::pipeline
