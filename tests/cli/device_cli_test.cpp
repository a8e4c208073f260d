// --device and --dtype on every command that runs a model, through the built binary: bad
// spellings are usage errors (exit 2), a CUDA device this machine lacks is a runtime error
// (exit 1) with a message naming it, and bf16 on the CPU generates images with the tiny model.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/device.h"
#include "io/image_io.h"
#include "testing/fixtures.h"
#include "testing/process.h"
#include "testing/test_paths.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

testing::ProcessResult duogen(std::vector<std::string> args) {
  return testing::run_duogen(std::move(args));
}

using testing::contains;

class DeviceCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(testing::make_temp_dir("device-cli"));
    const auto r = duogen({"-v", "warn", "init-tiny", "--out", model().string(), "--tokenizer",
                           DUOGEN_QWEN_TOKENIZER_DIR});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    testing::write_bytes(*root_ / "job.json",
                         R"({"id": "job", "messages": [{"role": "user", "content": "Draw a bowl."}]})");
    // edit checks its --image before loading anything, so it must exist.
    io::write_png(*root_ / "in.png", at::full({32, 32, 3}, 128, at::kByte));
    testing::write_bytes(*root_ / "suite.jsonl",
                         R"({"id": "a", "messages": [{"role": "user", "content": "hi"}]})"
                         "\n");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static fs::path model() { return *root_ / "model"; }
  static std::string path(const std::string& name) { return (*root_ / name).string(); }

  // Every command that loads a model, with arguments that would otherwise get it running.
  static std::vector<std::vector<std::string>> model_commands() {
    const std::string m = model().string();
    return {
        {"chat", "--model", m + "/mllm", "--prompt", "hi"},
        {"generate", "--model", m, "--prompts", path("job.json"), "--out", path("gen")},
        {"t2i", "--model", m, "--prompt", "a bowl", "--out", path("t2i.png")},
        {"edit", "--model", m, "--image", path("in.png"), "--prompt", "x", "--out",
         path("edit.png")},
        {"vae", "encode", "--model", m + "/vae", "--image", path("in.png"), "--out",
         path("latent.safetensors")},
        {"vae", "decode", "--model", m + "/vae", "--latent", path("latent.safetensors"), "--out",
         path("dec.png")},
        {"verify", "--model", m + "/vae", "--reference", path("dump.safetensors")},
        {"bench", "--model", m, "--suite", path("suite.jsonl"), "--out", path("bench")},
        {"judge", "--run", path("bench"), "--judge-model", m + "/mllm"},
    };
  }

  static fs::path* root_;
};
fs::path* DeviceCli::root_ = nullptr;

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST_F(DeviceCli, UnknownDevicesAndDtypesAreUsageErrors) {
  for (const auto& cmd : model_commands()) {
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {"--device", "tpu"}, {"--device", "cuda:x"}, {"--dtype", "int8"}}) {
      const auto args = with(cmd, extra);
      const auto r = duogen(args);
      EXPECT_EQ(r.signal, 0) << fmt::format("duogen {}", fmt::join(args, " "));
      EXPECT_EQ(r.exit_code, 2) << fmt::format("duogen {}: {}", fmt::join(args, " "), r.err);
      EXPECT_TRUE(contains(r.err, extra[1])) << fmt::format("duogen {}: {}", fmt::join(args, " "),
                                                            r.err);
    }
  }
}

TEST_F(DeviceCli, AMissingCudaDeviceFailsWithExitOneNamingIt) {
  // cuda:127 exists nowhere; plain `cuda` only where no GPU is visible (as on the CI machine).
  std::vector<std::string> devices = {"cuda:127"};
  if (cuda_device_count() == 0) devices.push_back("cuda");
  for (const auto& cmd : model_commands()) {
    for (const auto& device : devices) {
      const auto args = with(cmd, {"--device", device});
      const auto r = duogen(args);
      const std::string what = fmt::format("duogen {}: {}", fmt::join(args, " "), r.err);
      EXPECT_EQ(r.signal, 0) << what;
      EXPECT_EQ(r.exit_code, 1) << what;
      EXPECT_TRUE(contains(r.err, fmt::format("CUDA device {} requested but {} CUDA device",
                                              device, cuda_device_count())))
          << what;
    }
  }
}

TEST_F(DeviceCli, T2iRunsInBf16AndFp16OnTheCpu) {
  for (const auto& [dtype, aten_name] : std::vector<std::pair<std::string, std::string>>{
           {"bf16", "BFloat16"}, {"fp16", "Half"}}) {
    const std::string out = path(dtype + ".png");
    const auto r = duogen({"t2i", "--model", model().string(), "--prompt", "a bowl", "--out", out,
                           "--steps", "1", "--width", "32", "--height", "48", "--dtype", dtype,
                           "--device", "cpu"});
    ASSERT_EQ(r.exit_code, 0) << dtype << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "(cpu, " + aten_name + ")")) << r.err;  // the load line
    const auto image = io::read_image_rgb(out);
    EXPECT_EQ(image.size(0), 48) << dtype;
    EXPECT_EQ(image.size(1), 32) << dtype;
  }
}

TEST_F(DeviceCli, GenerateRunsInBf16OnTheCpu) {
  // A random model picks <BOV> only when pushed (as in the README's example).
  const auto r = duogen({"generate", "--model", model().string(), "--prompts", path("job.json"),
                         "--out", path("gen-bf16"), "--logit-bias", "<BOV>=10000",
                         "--max-new-tokens", "4", "--max-images", "1", "--steps", "1", "--width",
                         "32", "--height", "32", "--dtype", "bf16", "--device", "cpu", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path job_dir = fs::path(path("gen-bf16")) / "job";
  const auto result = nlohmann::json::parse(testing::read_bytes(job_dir / "result.json"));
  EXPECT_EQ(result["images"], 1) << result.dump();
  EXPECT_EQ(io::read_image_rgb(job_dir / "image-1.png").size(0), 32);
}

}  // namespace
}  // namespace duogen
