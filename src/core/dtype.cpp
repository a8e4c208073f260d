#include "core/dtype.h"

#include <array>

#include "core/check.h"

namespace duogen {
namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  std::size_t size;
  c10::ScalarType scalar;
  bool floating;
};

constexpr std::array<DTypeRow, 15> kDTypes = {{
    {DType::kF64, "F64", 8, c10::ScalarType::Double, true},
    {DType::kF32, "F32", 4, c10::ScalarType::Float, true},
    {DType::kF16, "F16", 2, c10::ScalarType::Half, true},
    {DType::kBF16, "BF16", 2, c10::ScalarType::BFloat16, true},
    {DType::kF8_E4M3, "F8_E4M3", 1, c10::ScalarType::Float8_e4m3fn, true},
    {DType::kF8_E5M2, "F8_E5M2", 1, c10::ScalarType::Float8_e5m2, true},
    {DType::kI64, "I64", 8, c10::ScalarType::Long, false},
    {DType::kI32, "I32", 4, c10::ScalarType::Int, false},
    {DType::kI16, "I16", 2, c10::ScalarType::Short, false},
    {DType::kI8, "I8", 1, c10::ScalarType::Char, false},
    {DType::kU64, "U64", 8, c10::ScalarType::UInt64, false},
    {DType::kU32, "U32", 4, c10::ScalarType::UInt32, false},
    {DType::kU16, "U16", 2, c10::ScalarType::UInt16, false},
    {DType::kU8, "U8", 1, c10::ScalarType::Byte, false},
    {DType::kBool, "BOOL", 1, c10::ScalarType::Bool, false},
}};

const DTypeRow& row(DType dtype) {
  for (const auto& r : kDTypes) {
    if (r.dtype == dtype) return r;
  }
  DUOGEN_FAIL(InvalidArgument, "invalid DType value {}", static_cast<int>(dtype));
}

}  // namespace

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& r : kDTypes) {
    if (r.name == name) return r.dtype;
  }
  return std::nullopt;
}

std::string_view safetensors_name(DType dtype) { return row(dtype).name; }
std::size_t element_size(DType dtype) { return row(dtype).size; }
bool is_floating(DType dtype) { return row(dtype).floating; }
c10::ScalarType to_scalar_type(DType dtype) { return row(dtype).scalar; }

DType from_scalar_type(c10::ScalarType type) {
  for (const auto& r : kDTypes) {
    if (r.scalar == type) return r.dtype;
  }
  DUOGEN_FAIL(InvalidArgument, "tensors of type {} cannot be stored in safetensors",
              c10::toString(type));
}

c10::ScalarType parse_float_dtype(std::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32") return c10::ScalarType::Float;
  if (name == "f16" || name == "fp16" || name == "float16") return c10::ScalarType::Half;
  if (name == "bf16" || name == "bfloat16") return c10::ScalarType::BFloat16;
  DUOGEN_FAIL(UsageError, "unknown dtype '{}' (expected fp32, fp16 or bf16)", name);
}

}  // namespace duogen
