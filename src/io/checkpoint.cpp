#include "io/checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/check.h"
#include "io/json_config.h"
#include "io/pickle_checkpoint.h"

namespace duogen::io {
namespace fs = std::filesystem;

Checkpoint Checkpoint::open(const fs::path& path, std::string_view index_name) {
  Checkpoint ck;
  ck.source_ = path;
  std::error_code ec;
  DUOGEN_CHECK(fs::exists(path, ec), IoError, "{}: no such file or directory", path.string());

  auto add_file = [&](const fs::path& file) -> std::size_t {
    ck.files_.push_back(SafetensorsFile::open(file));
    return ck.files_.size() - 1;
  };
  auto add_all_tensors = [&](std::size_t file_idx) {
    for (const auto& t : ck.files_[file_idx].tensors()) {
      auto [it, inserted] = ck.where_.emplace(t.name, file_idx);
      DUOGEN_CHECK(inserted, FormatError, "{}: tensor '{}' is also in {}",
                   ck.files_[file_idx].path().string(), t.name,
                   ck.files_[it->second].path().string());
    }
  };

  if (!fs::is_directory(path, ec)) {
    ck.directory_ = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    add_all_tensors(add_file(path));
    return ck;
  }
  ck.directory_ = path;
  fs::path index_path = path / index_name;
  // diffusers names its shard index after its weights file.
  if (index_name == kIndexFileName && !fs::exists(index_path, ec) &&
      fs::exists(path / kDiffusersIndexFileName, ec)) {
    index_path = path / kDiffusersIndexFileName;
  }
  if (fs::exists(index_path, ec)) {
    const auto index = read_json_file(index_path);
    const std::string ipath = index_path.string();
    DUOGEN_CHECK(index.is_object() && index.contains("weight_map") &&
                     index["weight_map"].is_object(),
                 FormatError, "{}: missing 'weight_map' object", ipath);
    const auto& weight_map = index["weight_map"];
    // Shards open in name order (not in the order tensor names happen to sort), so files() and
    // metadata() follow the shard numbering as in the directory form. Value: a tensor it holds.
    std::map<std::string, std::string> shard_tensor;
    for (const auto& [name, shard] : weight_map.items()) {
      DUOGEN_CHECK(shard.is_string(), FormatError, "{}: weight_map entry '{}' is not a file name",
                   ipath, name);
      const auto& shard_name = shard.get_ref<const std::string&>();
      // "", "." and ".." are their own filename() but name directories, not shards.
      DUOGEN_CHECK(fs::path(shard_name).filename() == fs::path(shard_name) && shard_name != "." &&
                       shard_name != ".." && !shard_name.empty(),
                   FormatError,
                   "{}: shard '{}' of tensor '{}' is not a plain file name", ipath, shard_name,
                   name);
      shard_tensor.emplace(shard_name, name);
    }
    std::map<std::string, std::size_t> shard_idx;
    for (const auto& [shard_name, name] : shard_tensor) {
      const fs::path shard_path = path / shard_name;
      DUOGEN_CHECK(fs::exists(shard_path, ec), IoError,
                   "{}: shard '{}' (holding tensor '{}') does not exist", ipath, shard_name, name);
      shard_idx.emplace(shard_name, add_file(shard_path));
    }
    for (const auto& [name, shard] : weight_map.items()) {
      const auto& shard_name = shard.get_ref<const std::string&>();
      const std::size_t idx = shard_idx.at(shard_name);
      DUOGEN_CHECK(ck.files_[idx].find(name) != nullptr, FormatError,
                   "{}: tensor '{}' is mapped to {}, which does not contain it", ipath, name,
                   shard_name);
      ck.where_.emplace(name, idx);
    }
    for (std::size_t i = 0; i < ck.files_.size(); ++i) {
      for (const auto& t : ck.files_[i].tensors()) {
        auto it = ck.where_.find(t.name);
        if (it == ck.where_.end()) {
          spdlog::warn("{}: tensor '{}' is not listed in {}; ignored", ck.files_[i].path().string(),
                       t.name, index_path.filename().string());
        } else if (it->second != i) {
          spdlog::warn("{}: tensor '{}' is also in {}; using the one the index names",
                       ck.files_[i].path().string(), t.name,
                       ck.files_[it->second].path().string());
        }
      }
    }
    return ck;
  }

  std::vector<fs::path> shards;
  for (const auto& entry : fs::directory_iterator(path)) {
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors") {
      shards.push_back(entry.path());
    }
  }
  if (shards.empty()) {
    // A directory of PyTorch pickle checkpoints (an original Cosmos / Wan release, or a
    // transformers `pytorch_model.bin` save): say which file it is and how to convert it.
    std::vector<fs::path> pickles;
    for (const auto& entry : fs::directory_iterator(path)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() &&
          (ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".ckpt")) {
        pickles.push_back(entry.path());
      }
    }
    std::sort(pickles.begin(), pickles.end());
    for (const auto& p : pickles) {
      if (auto error = pickle_checkpoint_error(p)) {
        DUOGEN_FAIL(FormatError,
                    "{}: directory holds no {} and no .safetensors file, only PyTorch "
                    "pickle checkpoints; {}",
                    path.string(), index_name, *error);
      }
    }
  }
  DUOGEN_CHECK(!shards.empty(), IoError, "{}: directory holds no {} and no .safetensors file",
               path.string(), index_name);
  std::sort(shards.begin(), shards.end());
  for (const auto& s : shards) add_all_tensors(add_file(s));
  return ck;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [name, _] : where_) out.push_back(name);
  return out;
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = where_.find(name);
  return it == where_.end() ? nullptr : files_[it->second].find(name);
}

const TensorInfo& Checkpoint::info(std::string_view name) const {
  const TensorInfo* t = find(name);
  DUOGEN_CHECK(t != nullptr, InvalidArgument, "{}: no tensor named '{}'", describe(), name);
  return *t;
}

const SafetensorsFile& Checkpoint::file_of(std::string_view name) const {
  auto it = where_.find(name);
  DUOGEN_CHECK(it != where_.end(), InvalidArgument, "{}: no tensor named '{}'", describe(), name);
  return files_[it->second];
}

at::Tensor Checkpoint::tensor(std::string_view name) const {
  return file_of(name).tensor(name);
}

void Checkpoint::release(std::string_view name) const { file_of(name).release(info(name)); }

std::uint64_t Checkpoint::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& [name, idx] : where_) n += files_[idx].find(name)->nbytes;
  return n;
}

const std::map<std::string, std::string>& Checkpoint::metadata() const {
  static const std::map<std::string, std::string> kEmpty;
  return files_.empty() ? kEmpty : files_.front().metadata();
}

std::string Checkpoint::describe() const { return source_.string(); }

}  // namespace duogen::io
