// The FFmpeg side of io/video_io.h: video files only (frame directories are handled there).
// Declared apart, with no FFmpeg types, so that tests can also write containers other than MP4.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/video_io.h"

namespace duogen::io {

// read_video / probe_video for a file (not a directory).
VideoFrames decode_video_file(const std::filesystem::path& path,
                              std::optional<std::int64_t> max_frames);
VideoInfo probe_video_file(const std::filesystem::path& path);

using OptionList = std::vector<std::pair<std::string, std::string>>;

struct EncoderSpec {
  std::string muxer;           // libavformat muxer: "mp4", "matroska", "webm", "avi", "gif"
  std::string encoder;         // libavcodec encoder: "libx264", "libvpx-vp9", "mpeg4", "gif"
  std::string pixel_format;    // what the encoder is fed: "yuv420p" (BT.709 limited), "rgb8", ...
  double fps = 16;             // > 0
  OptionList encoder_options;  // AVOptions of the encoder ("crf", "preset", ...)
  OptionList muxer_options;    // AVOptions of the muxer ("movflags" = "+faststart")
  bool full_range = false;     // YUV: full (JPEG) range instead of limited, tagged as such
};

// Encodes frames (uint8 [T, H, W, 3], contiguous, CPU; checked by the caller) into `path`
// atomically (io/atomic_file.h). InvalidArgument for sizes the pixel format cannot hold or an
// unknown muxer/encoder/pixel format; FormatError when FFmpeg refuses the combination; IoError
// when the file cannot be written.
void encode_video_file(const std::filesystem::path& path,
                       const at::Tensor& frames,
                       const EncoderSpec& spec);

}  // namespace duogen::io
