// libFuzzer target for SafetensorsFile::open + tensor(): every input must either open, with every
// tensor readable in full, or throw a duogen::Error. Anything else (a crash, a sanitizer report,
// another exception type escaping) is a bug.
//
//   cmake -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
//         -DDUOGEN_FUZZ=ON -DDUOGEN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   ninja -C build-fuzz safetensors_fuzz
//   build-fuzz/tests/fuzz/safetensors_fuzz -max_total_time=60 tests/data/malformed
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>

#include "duogen/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The reader maps a path; an in-memory file reached through /proc keeps the disk out of it.
  const int fd = ::memfd_create("safetensors_fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      ::close(fd);
      return 0;
    }
    done += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    const auto file = duogen::io::SafetensorsFile::open(path);
    for (const auto& info : file.tensors()) {
      const at::Tensor t = file.tensor(info);
      // Touch every byte so that a view past the mapping faults here.
      const auto* p = static_cast<const std::uint8_t*>(t.data_ptr());
      volatile std::uint8_t sink = std::accumulate(p, p + info.nbytes, std::uint8_t{0});
      (void)sink;
    }
  } catch (const duogen::Error&) {
  }
  ::close(fd);
  return 0;
}
