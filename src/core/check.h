// DUOGEN_CHECK(cond, ErrorType, "format {}", args...): throw ErrorType with a formatted message
// when cond is false. Messages should read as sentences that name the file/tensor/option at fault.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "duogen/error.h"

#define DUOGEN_CHECK(cond, ErrorType, ...)                 \
  do {                                                     \
    if (!(cond)) [[unlikely]] {                            \
      throw ErrorType(::fmt::format(__VA_ARGS__));         \
    }                                                      \
  } while (false)

#define DUOGEN_FAIL(ErrorType, ...) throw ErrorType(::fmt::format(__VA_ARGS__))
