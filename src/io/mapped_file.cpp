#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace duogen::io
