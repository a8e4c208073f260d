#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "core/check.h"

namespace duogen::io {

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target) : target_(std::move(target)) {
  // A random suffix plus O_EXCL gives a name no other process or thread is using; unlike
  // mkstemp, open() applies the umask to 0666, so the result has the usual permissions.
  std::random_device entropy;
  for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
    const std::uint64_t r = (std::uint64_t{entropy()} << 32) | entropy();
    temp_ = target_.string() + fmt::format(".tmp.{}.{:016x}", ::getpid(), r);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int err = errno;
    temp_.clear();
    DUOGEN_FAIL(IoError, "{}: cannot create a temporary file beside it: {}", target_.string(),
                std::strerror(err));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
  DUOGEN_CHECK(fd_ >= 0 && !committed_, IoError, "{}: write after commit", target_.string());
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    DUOGEN_CHECK(n > 0, IoError, "{}: write failed: {}", target_.string(), std::strerror(errno));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  DUOGEN_CHECK(fd_ >= 0 && !committed_, IoError, "{}: committed twice", target_.string());
  DUOGEN_CHECK(::fsync(fd_) == 0, IoError, "{}: fsync failed: {}", target_.string(),
               std::strerror(errno));
  const int rc = ::close(fd_);
  fd_ = -1;
  DUOGEN_CHECK(rc == 0, IoError, "{}: close failed: {}", target_.string(), std::strerror(errno));
  DUOGEN_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0, IoError,
               "{}: cannot move the finished file into place: {}", target_.string(),
               std::strerror(errno));
  committed_ = true;
  // Make the rename itself durable.
  const auto dir = target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomically(const std::filesystem::path& target, std::string_view content) {
  AtomicFileWriter writer(target);
  writer.write(content);
  writer.commit();
}

}  // namespace duogen::io
