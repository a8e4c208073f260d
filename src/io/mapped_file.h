// A read-only view of a whole file through mmap. Pages are mapped private and writable
// (copy-on-write), so tensors viewing the mapping can be modified in place without touching the
// file and without an upfront copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace duogen::io {

class MappedFile {
 public:
  // Throws IoError naming the path if it is missing, not a regular file, or cannot be mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  // Drops the pages lying wholly inside [offset, offset + length) from this process's memory
  // (madvise MADV_DONTNEED), e.g. once a tensor has been copied out to another dtype or device:
  // the mapping no longer counts towards the resident set for it. The data stays readable (a later
  // access reads the file again), but an in-place change to those pages is lost. Pages shared with
  // bytes outside the range are kept. A no-op where madvise fails.
  void release(std::size_t offset, std::size_t length) const;

 private:
  MappedFile(std::filesystem::path path, std::uint8_t* data, std::size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::filesystem::path path_;
  std::uint8_t* data_ = nullptr;  // nullptr for an empty file
  std::size_t size_ = 0;
};

}  // namespace duogen::io
