// Writing a file so that it appears whole or not at all: the bytes go to a unique temporary file
// beside the target, are flushed to disk, and the temporary is renamed over the target. Readers
// never see a partial file, and a crash leaves the previous version (or nothing) in place.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace duogen::io {

class AtomicFileWriter {
 public:
  // Creates the temporary file (IoError naming the target if the directory is not writable).
  explicit AtomicFileWriter(std::filesystem::path target);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, rename into place, fsync the directory. Throws IoError on failure.
  void commit();
  // The temporary file, for a writer that must open it by name itself (FFmpeg's MP4 muxer
  // reopens its output to move the index to the front): write through this path, then commit().
  // fsync works on the file, so commit() makes those bytes durable too.
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Convenience: the whole content at once.
void write_file_atomically(const std::filesystem::path& target, std::string_view content);

}  // namespace duogen::io
