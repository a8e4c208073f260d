// Exception types thrown by the duogen library. The CLI maps them to exit codes
// (UsageError -> 2, everything else -> 1); the library itself never exits.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace duogen {

// Base of every error the library throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file could not be opened, mapped or read (missing, unreadable, I/O failure).
class IoError : public Error {
 public:
  using Error::Error;
};

// A file's contents are malformed: bad header, bad JSON, offsets out of range, bad index.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A malformed field of a job or request: field() names it ("steps", "messages[0].content[1]").
class FieldError : public FormatError {
 public:
  FieldError(std::string field, const std::string& message)
      : FormatError(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Weights that do not fit the model: missing tensors, wrong shapes or dtypes.
class WeightError : public Error {
 public:
  using Error::Error;
};

// A caller passed something invalid (bad option value, wrong tensor shape, unknown component).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A generation stopped on request (a std::stop_token of the Engine API): a cancelled client, a
// deadline, a shutdown. Nothing of the job is written.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// Command-line usage error: the CLI exits with code 2 for these.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace duogen
