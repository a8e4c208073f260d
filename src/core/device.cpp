#include "core/device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <charconv>
#include <limits>
#include <string>

#include "core/check.h"

namespace duogen {

c10::Device parse_device(std::string_view text) {
  if (text == "cpu") return c10::Device(c10::kCPU);
  if (text == "cuda") return c10::Device(c10::kCUDA);
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (text.substr(0, kCudaPrefix.size()) == kCudaPrefix) {
    const std::string_view digits = text.substr(kCudaPrefix.size());
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    // from_chars accepts a leading '-'; a device index is a plain non-negative number that fits
    // c10::DeviceIndex (int8).
    const bool whole = !digits.empty() && ec == std::errc() &&
                       end == digits.data() + digits.size() && digits.front() != '-';
    DUOGEN_CHECK(whole && index >= 0 && index <= std::numeric_limits<c10::DeviceIndex>::max(),
                 InvalidArgument, "invalid device '{}': the CUDA device index must be 0..{}",
                 text, std::numeric_limits<c10::DeviceIndex>::max());
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  DUOGEN_FAIL(InvalidArgument, "invalid device '{}' (expected cpu, cuda or cuda:N)", text);
}

int cuda_device_count() {
  // The hooks are the CPU stub (0 devices) unless libtorch_cuda is loaded; no CUDA headers here.
  if (!at::globalContext().hasCUDA()) return 0;
  return at::detail::getCUDAHooks().deviceCount();
}

void check_device_available(const c10::Device& device) {
  if (device.is_cpu()) return;
  DUOGEN_CHECK(device.is_cuda(), InvalidArgument, "device {} is not supported (cpu or cuda)",
               device.str());
  const int count = cuda_device_count();
  const int needed = device.has_index() ? device.index() + 1 : 1;
  DUOGEN_CHECK(count >= needed, InvalidArgument,
               "CUDA device {} requested but {} CUDA device{} visible", device.str(), count,
               count == 1 ? " is" : "s are");
}

}  // namespace duogen
