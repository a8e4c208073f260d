#include "device_options.h"

#include <spdlog/spdlog.h>

#include "core/device.h"
#include "core/dtype.h"
#include "duogen/error.h"

namespace duogen::cli {

void add_device_dtype_options(CLI::App* cmd, DeviceDtypeArgs& args, bool with_dtype) {
  const CLI::Validator device_check(
      [](std::string& text) -> std::string {
        try {
          parse_device(text);
          return {};
        } catch (const InvalidArgument& e) {
          return e.what();
        }
      },
      "cpu|cuda[:N]", "device");
  cmd->add_option("--device", args.device, "cpu, cuda or cuda:N (default cpu)")
      ->check(device_check);
  if (with_dtype) {
    // fp32/fp16/bf16 are the documented names; the others are kept so older scripts still work.
    cmd->add_option("--dtype", args.dtype, "bf16, fp16 or fp32 (default: fp32 on cpu, bf16 on cuda)")
        ->check(CLI::IsMember(
            {"bf16", "fp16", "fp32", "bfloat16", "float16", "float32", "f16", "f32"}));
  }
}

DevicePlacement resolve(const DeviceDtypeArgs& args) {
  DevicePlacement p;
  p.device = parse_device(args.device);
  check_device_available(p.device);
  if (args.dtype) {
    p.dtype = parse_float_dtype(*args.dtype);
  } else {
    p.dtype = p.device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
  }
  spdlog::debug("device {}, dtype {}", p.device.str(), c10::toString(p.dtype));
  return p;
}

}  // namespace duogen::cli
