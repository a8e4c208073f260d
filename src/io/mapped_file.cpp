#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/check.h"

namespace duogen::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  DUOGEN_CHECK(fd >= 0, IoError, "{}: cannot open: {}", path.string(), std::strerror(errno));
  struct stat st {};
  const bool stat_failed = ::fstat(fd, &st) != 0;
  if (stat_failed || !S_ISREG(st.st_mode)) {
    const int err = stat_failed ? errno : 0;  // errno is stale when fstat succeeded
    ::close(fd);
    DUOGEN_FAIL(IoError, "{}: not a regular file{}", path.string(),
                err ? std::string(": ") + std::strerror(err) : std::string());
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  std::uint8_t* data = nullptr;
  if (size > 0) {
    void* ptr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (ptr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      DUOGEN_FAIL(IoError, "{}: cannot map {} bytes: {}", path.string(), size, std::strerror(err));
    }
    data = static_cast<std::uint8_t*>(ptr);
  }
  ::close(fd);  // the mapping keeps the file referenced
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

void MappedFile::release(std::size_t offset, std::size_t length) const {
  if (data_ == nullptr || offset >= size_ || length == 0) return;
  length = std::min(length, size_ - offset);
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(data_ + offset);
  const std::uintptr_t first = (begin + page - 1) / page * page;  // first whole page
  const std::uintptr_t last = (begin + length) / page * page;     // end of the last whole page
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace duogen::io
