// Files and tensors the io and cli tests build: raw bytes, deterministic random tensors, sharded
// checkpoints, and the malformed corpus that tools/reference/make_malformed_safetensors.py writes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "io/safetensors.h"

namespace duogen::testing {

void write_bytes(const std::filesystem::path& path, std::string_view bytes);
std::string read_bytes(const std::filesystem::path& path);
// The bytes of a tensor's (contiguous) data, for exact comparison, NaN payloads included.
std::string tensor_bytes(const at::Tensor& t);

// Every bit pattern is fair game (NaNs, subnormals, values above 2^63 in U64) except for BOOL,
// which gets 0 or 1 since other bytes are not valid bools.
at::Tensor random_tensor(DType dtype, std::vector<std::int64_t> shape, std::uint64_t seed);

// A safetensors file from header JSON text and a data section, the header length as given.
std::string safetensors_bytes(std::string_view header_json, std::string_view data);

struct Shard {
  std::string file_name;
  io::NamedTensors tensors;
};
// Writes each shard into `dir` and, if `with_index`, a model.safetensors.index.json mapping every
// tensor to its shard.
void write_checkpoint(const std::filesystem::path& dir, const std::vector<Shard>& shards,
                      bool with_index);

struct MalformedCase {
  std::string path;      // relative to malformed_dir()
  bool is_directory;     // a broken sharded checkpoint rather than one file
  std::string error;     // "FormatError" or "IoError"
  std::string fragment;  // part of the expected message
  std::vector<std::string> names;  // file / tensor names the message must hold
};
std::filesystem::path malformed_dir();
std::vector<MalformedCase> malformed_cases();

}  // namespace duogen::testing
