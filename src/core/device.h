// Compute devices as users name them ("cpu", "cuda", "cuda:N") and the check that a requested
// device exists on this machine. The library is built with and without CUDA; both questions are
// answered through ATen's CUDA hooks, which report zero devices in a CPU-only build.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string_view>

namespace duogen {

// Where a model runs and in which floating dtype it computes.
struct DevicePlacement {
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = c10::kFloat;
};

// "cpu" -> CPU, "cuda" -> the current CUDA device, "cuda:N" -> CUDA device N. Throws
// InvalidArgument quoting the text for anything else (other device types, bad or negative index).
c10::Device parse_device(std::string_view text);

// Number of CUDA devices this process can use (0 without a GPU, driver or a CUDA build of torch).
int cuda_device_count();

// Throws InvalidArgument ("CUDA device cuda:1 requested but 1 CUDA device is visible") when the
// device does not exist here; CPU is always available.
void check_device_available(const c10::Device& device);

}  // namespace duogen
