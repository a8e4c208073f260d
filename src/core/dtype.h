// Element types as safetensors names them, and their mapping to ATen scalar types.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace duogen {

// Every dtype Hugging Face checkpoints use. Names follow the safetensors spec.
enum class DType {
  kF64,
  kF32,
  kF16,
  kBF16,
  kF8_E4M3,
  kF8_E5M2,
  kI64,
  kI32,
  kI16,
  kI8,
  kU64,
  kU32,
  kU16,
  kU8,
  kBool,
};

// "F32" -> kF32; nullopt for a name safetensors does not define or we do not support.
std::optional<DType> dtype_from_safetensors_name(std::string_view name);
std::string_view safetensors_name(DType dtype);
// Bytes per element.
std::size_t element_size(DType dtype);
bool is_floating(DType dtype);
c10::ScalarType to_scalar_type(DType dtype);
// Throws InvalidArgument for ATen types safetensors cannot store (complex, quantized, ...).
DType from_scalar_type(c10::ScalarType type);
// "f32", "bf16", ... for user-facing options; throws UsageError for unknown names.
c10::ScalarType parse_float_dtype(std::string_view name);

}  // namespace duogen
