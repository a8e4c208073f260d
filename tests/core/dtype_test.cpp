#include "core/dtype.h"

#include <gtest/gtest.h>

#include "duogen/error.h"

namespace duogen {
namespace {

TEST(DType, RoundTripsEverySafetensorsName) {
  for (const char* name : {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16",
                           "I8", "U64", "U32", "U16", "U8", "BOOL"}) {
    auto dtype = dtype_from_safetensors_name(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_EQ(safetensors_name(*dtype), name);
    EXPECT_EQ(from_scalar_type(to_scalar_type(*dtype)), *dtype) << name;
    EXPECT_EQ(element_size(*dtype), c10::elementSize(to_scalar_type(*dtype))) << name;
  }
}

TEST(DType, RejectsUnknownNames) {
  EXPECT_FALSE(dtype_from_safetensors_name("F4").has_value());
  EXPECT_FALSE(dtype_from_safetensors_name("f32").has_value());
  EXPECT_FALSE(dtype_from_safetensors_name("").has_value());
}

TEST(DType, ParsesUserFacingFloatNames) {
  EXPECT_EQ(parse_float_dtype("bf16"), c10::ScalarType::BFloat16);
  EXPECT_EQ(parse_float_dtype("fp32"), c10::ScalarType::Float);
  EXPECT_EQ(parse_float_dtype("fp16"), c10::ScalarType::Half);
  EXPECT_THROW(parse_float_dtype("int8"), UsageError);
}

TEST(DType, ComplexCannotBeStored) {
  EXPECT_THROW(from_scalar_type(c10::ScalarType::ComplexFloat), InvalidArgument);
}

}  // namespace
}  // namespace duogen
