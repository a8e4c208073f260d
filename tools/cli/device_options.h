// --device cpu|cuda[:N] and --dtype bf16|fp16|fp32, the same on every command that runs a model.
// Bad spellings are usage errors (exit 2, from CLI11's validators); a well-formed device that this
// machine does not have is a runtime error (exit 1) raised by resolve().
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>


namespace duogen {
struct DevicePlacement;  // core/device.h: the commands that call resolve() include it
}  // namespace duogen

namespace duogen::cli {

struct DeviceDtypeArgs {
  std::string device = "cpu";
  std::optional<std::string> dtype;  // unset: fp32 on CPU, bf16 on CUDA
};

// Adds --device, and --dtype unless the command's dtype is fixed elsewhere (verify: the dump's).
void add_device_dtype_options(CLI::App* cmd, DeviceDtypeArgs& args, bool with_dtype = true);

// Parses both and checks that the device exists (duogen::InvalidArgument naming it otherwise).
// Call first in a command's callback, before any model file is read.
DevicePlacement resolve(const DeviceDtypeArgs& args);

}  // namespace duogen::cli
