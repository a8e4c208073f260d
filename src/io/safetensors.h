// safetensors files: a validating, mmap-backed reader and an atomic writer.
//
// Format: an 8-byte little-endian header length n, n bytes of UTF-8 JSON mapping each tensor
// name to {dtype, shape, data_offsets: [begin, end]} (plus an optional string->string
// "__metadata__"), then the data buffer. Offsets are relative to the buffer and must tile it
// exactly: no overlaps, no holes, nothing after the last tensor (the rules of the reference Rust
// implementation).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"

namespace duogen::io {

class MappedFile;

// Largest JSON header accepted (the reference implementation's limit).
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offset of the data, relative to the start of the file
  std::uint64_t nbytes = 0;
  std::int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and fully validates the file. Throws IoError (cannot read) or FormatError (malformed),
  // both naming the file and, where one is at fault, the tensor.
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const;
  // Tensors in the order of their data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr if absent.
  const TensorInfo* find(std::string_view name) const;
  // Throws InvalidArgument naming the file if absent.
  const TensorInfo& info(std::string_view name) const;
  // A CPU tensor viewing the mapped file (copy-on-write pages; the mapping stays alive as long as
  // the tensor does). Data whose offset is not aligned to the element size is copied instead.
  at::Tensor tensor(std::string_view name) const;
  at::Tensor tensor(const TensorInfo& info) const;
  // Drops the tensor's pages from memory once its data has been copied out (MappedFile::release):
  // views keep working and read the file again.
  void release(const TensorInfo& info) const;
  std::uint64_t file_size() const;

 private:
  std::shared_ptr<MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes tensors (any device, layout or stride; copied to contiguous CPU) in the given order.
// The file appears atomically: it is written beside the target and renamed into place.
// Throws InvalidArgument for duplicate names or unsupported dtypes, IoError on write failure.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace duogen::io
