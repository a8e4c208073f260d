// Videos <-> uint8 RGB tensors [T, H, W, 3]: video files through FFmpeg's libraries
// (libavformat, libavcodec, libswscale; no external programs), and directories of PNG/JPEG
// frames through io/image_io.h. docs/video.md describes formats, colour conversion, frame rates
// and errors.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace duogen::io {

struct VideoFrames {
  at::Tensor frames;  // uint8 [T, H, W, 3] RGB, contiguous, on the CPU; T >= 1
  double fps = 0;     // frames per second
};

// The frame rate given to a directory of frames, which has no timing of its own.
inline constexpr double kFrameDirectoryFps = 16.0;

// Reads a video file or a directory of frames.
//
// A file: any container and codec this FFmpeg build demuxes and decodes (MP4/MOV, WebM/MKV, AVI,
// GIF, ...), its best video stream, every frame in presentation order (no frame is dropped or
// repeated to make a variable rate constant), converted to RGB24 by libswscale with the
// stream's YUV matrix and range. fps is the stream's average frame rate (avg_frame_rate, else
// r_frame_rate). A still image (PNG, JPEG, ... however named) is refused: it is not a video.
//
// A directory: its *.png, *.jpg and *.jpeg files (other files and dot-files ignored), sorted by
// name byte by byte (so name them with zero-padded numbers, 000.png, 001.png, ..., as
// write_frames_png does), read by read_image_rgb (alpha dropped, EXIF orientation applied); fps
// is `directory_fps`.
//
// `max_frames` (>= 1) stops after that many frames. Errors, each naming the file:
// IoError: the path does not exist or cannot be read.
// FormatError: not a video (empty, unrecognised, a still image, no video stream, no decoder),
//   a frame that fails to decode, a damaged or truncated file (strict: a file whose container
//   says it has more frames than could be decoded is an error, not a shorter video; pass
//   max_frames to read the intact start), zero frames, frames of different sizes.
// InvalidArgument: max_frames < 1, directory_fps not positive.
VideoFrames read_video(const std::filesystem::path& path,
                       std::optional<std::int64_t> max_frames = {},
                       double directory_fps = kFrameDirectoryFps);

struct VideoInfo {
  std::int64_t frames = 0;  // the container's frame count, or the stream's packets counted
  std::int64_t width = 0;   // pixels, as stored (sample aspect ratio not applied)
  std::int64_t height = 0;
  double fps = 0;            // as read_video reports it
  double duration = 0;       // seconds: the stream's, else the file's, else frames / fps
  std::string codec;         // FFmpeg's codec name ("h264", "vp9", "gif"); "png"/"jpeg" frames
  std::string pixel_format;  // FFmpeg's name ("yuv420p"); "rgb24" for a directory
  std::string container;     // FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2"); "directory"
};

// The metadata of a video file or frame directory without decoding it (a directory's first
// frame is read for its size). Same errors as read_video for unreadable input.
VideoInfo probe_video(const std::filesystem::path& path, double directory_fps = kFrameDirectoryFps);

struct VideoWriteOptions {
  double fps = 16;                // > 0; stored exactly for rates like 16, 24, 30000/1001
  int crf = 18;                   // libx264 constant rate factor, 0 (best) .. 51 (worst)
  std::string preset = "medium";  // libx264 preset: ultrafast .. placebo
};

// Writes uint8 [T, H, W, 3] RGB frames as H.264 (libx264, yuv420p, BT.709 limited range, tagged)
// in MP4 with +faststart, atomically: the file appears whole under `path` or not at all (a
// failure leaves any earlier file there unchanged and no temporary behind). Every frame lasts
// 1/fps, so players and ffprobe report T frames, `fps` and T / fps seconds.
// InvalidArgument: a tensor that is not uint8 [T, H, W, 3] with T, H, W >= 1; an odd width or
// height (4:2:0 chroma needs even sizes; crop or pad the frames, they are not padded here);
// options out of range. IoError: the file cannot be written. The tensor may be on any device.
void write_mp4(const std::filesystem::path& path,
               const at::Tensor& frames,
               const VideoWriteOptions& options = {});

// Writes uint8 [T, H, W, 3] frames as dir/000.png, dir/001.png, ... (at least three digits,
// more when T > 1000), each file atomically; creates `dir` if needed. Files of the same names
// are replaced. InvalidArgument if `dir` already holds other frame files (*.png, *.jpg, *.jpeg
// that read_video would read with these), since the result would read back as a different video;
// nothing is written then.
void write_frames_png(const std::filesystem::path& dir, const at::Tensor& frames);

}  // namespace duogen::io
