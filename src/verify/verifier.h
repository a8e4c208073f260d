// Runs a registered component on a reference dump and compares every expected output.
#pragma once

#include <c10/core/Device.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "verify/compare.h"

namespace duogen::verify {

struct VerifyOptions {
  std::filesystem::path model;
  std::filesystem::path reference;
  std::optional<double> rtol;  // overrides the dump's suggestion; default 1e-5
  c10::Device device = c10::kCPU;
};

struct VerifyReport {
  std::string component;
  std::string dtype;
  double rtol = 0;
  std::vector<Comparison> outputs;
  bool passed() const;
};

// Throws InvalidArgument for an unknown component, FormatError/IoError for bad files.
VerifyReport run_verify(const VerifyOptions& options);

}  // namespace duogen::verify
