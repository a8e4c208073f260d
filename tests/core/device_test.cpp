#include "core/device.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "duogen/error.h"

namespace duogen {
namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no InvalidArgument thrown)";
}

TEST(Device, ParsesCpuCudaAndIndexedCuda) {
  EXPECT_EQ(parse_device("cpu"), c10::Device(c10::kCPU));
  EXPECT_EQ(parse_device("cuda"), c10::Device(c10::kCUDA));
  EXPECT_FALSE(parse_device("cuda").has_index());
  EXPECT_EQ(parse_device("cuda:0"), c10::Device(c10::kCUDA, 0));
  EXPECT_EQ(parse_device("cuda:7"), c10::Device(c10::kCUDA, 7));
  EXPECT_EQ(parse_device("cuda:127"), c10::Device(c10::kCUDA, 127));
}

TEST(Device, RejectsOtherTextNamingIt) {
  for (const char* bad : {"", "tpu", "CUDA", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1x",
                          "cuda:128", "cuda:99999999999", "cpu:0", " cpu", "mps"}) {
    const std::string m = message_of([&] { parse_device(bad); });
    EXPECT_NE(m.find(std::string("'") + bad + "'"), std::string::npos) << bad << ": " << m;
  }
}

TEST(Device, CpuIsAlwaysAvailable) {
  EXPECT_NO_THROW(check_device_available(c10::Device(c10::kCPU)));
}

TEST(Device, AMissingCudaDeviceIsReportedWithTheVisibleCount) {
  // No machine has 128 GPUs, so this holds with and without a GPU.
  const int count = cuda_device_count();
  EXPECT_GE(count, 0);
  const std::string m = message_of([] { check_device_available(parse_device("cuda:127")); });
  EXPECT_NE(m.find("CUDA device cuda:127 requested but " + std::to_string(count) + " CUDA device"),
            std::string::npos)
      << m;
  if (count == 0) {
    const std::string plain = message_of([] { check_device_available(c10::Device(c10::kCUDA)); });
    EXPECT_NE(plain.find("CUDA device cuda requested but 0 CUDA devices are visible"),
              std::string::npos)
        << plain;
  } else {
    EXPECT_NO_THROW(check_device_available(c10::Device(c10::kCUDA, 0)));
  }
}

}  // namespace
}  // namespace duogen
