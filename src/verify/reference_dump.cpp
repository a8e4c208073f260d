#include "verify/reference_dump.h"

#include "core/check.h"
#include "io/safetensors.h"

namespace duogen::verify {

ReferenceDump ReferenceDump::load(const std::filesystem::path& path) {
  const auto file = io::SafetensorsFile::open(path);
  const std::string name = path.string();
  ReferenceDump dump;
  dump.metadata = file.metadata();
  auto meta = [&](const char* key) -> const std::string* {
    auto it = dump.metadata.find(key);
    return it == dump.metadata.end() ? nullptr : &it->second;
  };
  const std::string* format = meta("format");
  DUOGEN_CHECK(format != nullptr && *format == kDumpFormat, FormatError,
               "{}: not a duogen reference dump (__metadata__ format is '{}', expected '{}')", name,
               format ? *format : "", kDumpFormat);
  const std::string* component = meta("component");
  DUOGEN_CHECK(component != nullptr && !component->empty(), FormatError,
               "{}: __metadata__ names no component", name);
  dump.component = *component;
  dump.dtype = meta("dtype") ? *meta("dtype") : "float32";
  if (const std::string* rtol = meta("rtol")) {
    try {
      dump.rtol = std::stod(*rtol);
    } catch (const std::exception&) {
      DUOGEN_FAIL(FormatError, "{}: __metadata__ rtol '{}' is not a number", name, *rtol);
    }
  }
  for (const auto& info : file.tensors()) {
    if (info.name.starts_with("input.")) {
      dump.inputs.emplace(info.name.substr(6), file.tensor(info));
    } else if (info.name.starts_with("expected.")) {
      dump.expected.emplace(info.name.substr(9), file.tensor(info));
    } else {
      DUOGEN_FAIL(FormatError, "{}: tensor '{}' is neither 'input.*' nor 'expected.*'", name,
                  info.name);
    }
  }
  DUOGEN_CHECK(!dump.expected.empty(), FormatError, "{}: the dump holds no expected.* tensors",
               name);
  return dump;
}

}  // namespace duogen::verify
