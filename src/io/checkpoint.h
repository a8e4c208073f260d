// A checkpoint: one .safetensors file, a directory with a sharded model.safetensors.index.json,
// or a directory of .safetensors files. Presents one flat name -> tensor namespace.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.h"

namespace duogen::io {

inline constexpr std::string_view kIndexFileName = "model.safetensors.index.json";
inline constexpr std::string_view kDiffusersIndexFileName =
    "diffusion_pytorch_model.safetensors.index.json";

class Checkpoint {
 public:
  // `path` is a .safetensors file, a directory holding `index_name` (default
  // model.safetensors.index.json, or diffusers' diffusion_pytorch_model.safetensors.index.json
  // when only that exists), or a directory holding one or more .safetensors files.
  // Throws IoError/FormatError naming the file (and tensor) at fault: index naming a missing
  // shard or a tensor the shard lacks, a tensor in two shards, and every safetensors error.
  static Checkpoint open(const std::filesystem::path& path,
                         std::string_view index_name = kIndexFileName);

  // The directory holding the checkpoint (config.json etc. live here).
  const std::filesystem::path& directory() const { return directory_; }
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Sorted tensor names.
  std::vector<std::string> names() const;
  std::size_t size() const { return where_.size(); }
  bool contains(std::string_view name) const { return where_.find(name) != where_.end(); }
  // nullptr if absent.
  const TensorInfo* find(std::string_view name) const;
  // Throws InvalidArgument naming the checkpoint if absent.
  const TensorInfo& info(std::string_view name) const;
  const SafetensorsFile& file_of(std::string_view name) const;
  at::Tensor tensor(std::string_view name) const;
  // Drops a tensor's mapped pages from memory after its data was copied elsewhere
  // (SafetensorsFile::release).
  void release(std::string_view name) const;
  std::uint64_t total_bytes() const;
  // Metadata of the first file (the index's "metadata" is not tensor metadata).
  const std::map<std::string, std::string>& metadata() const;
  std::string describe() const;  // the path as the user gave it, for messages

 private:
  std::filesystem::path source_;
  std::filesystem::path directory_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t, std::less<>> where_;  // name -> index into files_
};

}  // namespace duogen::io
