// Reference dumps: safetensors files holding a component's inputs (`input.<name>`), the outputs a
// reference implementation produced (`expected.<name>`) and `__metadata__` naming the component
// (format "duogen-reference-v1"; written by tools/reference/reference_dump.py).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace duogen::verify {

inline constexpr const char* kDumpFormat = "duogen-reference-v1";

using TensorMap = std::map<std::string, at::Tensor>;

struct ReferenceDump {
  std::string component;
  std::string dtype;              // compute dtype of the reference run ("float32", "bfloat16")
  std::optional<double> rtol;     // the tolerance the dumper suggests
  std::map<std::string, std::string> metadata;
  TensorMap inputs;
  TensorMap expected;

  // Throws FormatError naming the file if the metadata or tensor names are not a dump's.
  static ReferenceDump load(const std::filesystem::path& path);
};

}  // namespace duogen::verify
