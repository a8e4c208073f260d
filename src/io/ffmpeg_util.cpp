#include "io/ffmpeg_util.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <new>

namespace duogen::io::ffmpeg {
namespace {

thread_local std::string last_error;        // the last error-level message of this thread
thread_local bool error_continues = false;  // the last error piece had no newline yet

void log_callback(void* /*context*/, int level, const char* format, va_list args) {
  if (level > AV_LOG_INFO) return;
  char buffer[1024];
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(buffer, sizeof buffer, format, copy);
  va_end(copy);
  if (n <= 0) return;
  std::string line(buffer, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buffer - 1));
  const bool ends_line = !line.empty() && line.back() == '\n';
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (level <= AV_LOG_ERROR) {
    // FFmpeg sometimes logs one message in several calls; only a newline ends it.
    last_error = error_continues ? last_error + line : line;
    error_continues = !ends_line;
  }
  if (line.empty()) return;
  // Debug, not warn: the library throws on every failure that matters, quoting the error, and
  // FFmpeg's warnings (x264's statistics, deprecated formats) are not the user's business.
  if (level <= AV_LOG_WARNING) {
    spdlog::debug("ffmpeg: {}", line);
  } else {
    spdlog::trace("ffmpeg: {}", line);
  }
}

}  // namespace

FramePtr alloc_frame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw std::bad_alloc();
  return frame;
}

PacketPtr alloc_packet() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) throw std::bad_alloc();
  return packet;
}

void route_log() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
}

void clear_logged_error() {
  last_error.clear();
  error_continues = false;
}

const std::string& logged_error() { return last_error; }

std::string describe(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  std::string out = text;
  if (!last_error.empty() && last_error != out) out += " (" + last_error + ")";
  return out;
}

std::string file_url(const std::string& path) { return "file:" + path; }

}  // namespace duogen::io::ffmpeg
