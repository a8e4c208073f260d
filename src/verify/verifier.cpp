#include "verify/verifier.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/check.h"
#include "core/dtype.h"
#include "verify/components.h"
#include "verify/reference_dump.h"

namespace duogen::verify {
namespace {

// Used when neither the user nor the dump gives one: fp32 CPU parity (rounding only).
constexpr double kDefaultRtol = 1e-5;

c10::ScalarType dump_dtype(const std::string& name, const std::filesystem::path& file) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  DUOGEN_FAIL(FormatError, "{}: unsupported compute dtype '{}' in __metadata__", file.string(),
              name);
}

}  // namespace

bool VerifyReport::passed() const {
  return !outputs.empty() &&
         std::all_of(outputs.begin(), outputs.end(), [](const Comparison& c) { return c.passed; });
}

VerifyReport run_verify(const VerifyOptions& options) {
  const ReferenceDump dump = ReferenceDump::load(options.reference);
  const auto registry = build_component_registry();
  auto it = registry.find(dump.component);
  if (it == registry.end()) {
    std::string known;
    for (const auto& [name, _] : registry) known += (known.empty() ? "" : ", ") + name;
    DUOGEN_FAIL(InvalidArgument, "{}: unknown component '{}' (known: {})",
                options.reference.string(), dump.component, known);
  }
  ComponentContext ctx;
  ctx.model = options.model;
  ctx.dtype = dump_dtype(dump.dtype, options.reference);
  ctx.device = options.device;
  ctx.metadata = dump.metadata;
  const TensorMap actual = it->second.run(ctx, dump.inputs);

  VerifyReport report;
  report.component = dump.component;
  report.dtype = dump.dtype;
  report.rtol = options.rtol.value_or(dump.rtol.value_or(kDefaultRtol));
  for (const auto& [name, expected] : dump.expected) {
    auto a = actual.find(name);
    report.outputs.push_back(
        compare(name, a == actual.end() ? at::Tensor() : a->second, expected, report.rtol));
  }
  return report;
}

}  // namespace duogen::verify
