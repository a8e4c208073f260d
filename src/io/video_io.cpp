#include "io/video_io.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>
#include <system_error>
#include <vector>

#include "core/check.h"
#include "io/image_io.h"
#include "io/video_codec.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// The frame files of a directory as read_video reads them: *.png, *.jpg, *.jpeg (any case),
// not dot-files (editors' and atomic writers' temporaries), sorted by name byte by byte.
std::vector<fs::path> list_frame_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string ext = lower_extension(p);
    if (p.filename().string().starts_with('.')) continue;
    if (ext != ".png" && ext != ".jpg" && ext != ".jpeg") continue;
    if (!it->is_regular_file(ec)) continue;
    files.push_back(p);
  }
  DUOGEN_CHECK(!ec, IoError, "{}: cannot list the directory: {}", dir.string(), ec.message());
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

void check_max_frames(std::optional<std::int64_t> max_frames, const fs::path& path) {
  DUOGEN_CHECK(!max_frames || *max_frames >= 1, InvalidArgument,
               "{}: max_frames must be at least 1, got {}", path.string(), max_frames.value_or(0));
}

void check_directory_fps(double fps, const fs::path& path) {
  DUOGEN_CHECK(std::isfinite(fps) && fps > 0, InvalidArgument,
               "{}: the frame directory's fps must be positive, got {}", path.string(), fps);
}

std::vector<fs::path> frame_files_or_fail(const fs::path& dir) {
  std::vector<fs::path> files = list_frame_files(dir);
  DUOGEN_CHECK(!files.empty(), FormatError,
               "{}: no frames: the directory holds no .png, .jpg or .jpeg files", dir.string());
  return files;
}

VideoFrames read_frame_directory(const fs::path& dir,
                                 std::optional<std::int64_t> max_frames,
                                 double fps) {
  const std::vector<fs::path> files = frame_files_or_fail(dir);
  const auto count = std::min<std::int64_t>(static_cast<std::int64_t>(files.size()),
                                            max_frames.value_or(INT64_MAX));
  const at::Tensor first = read_image_rgb(files[0]);  // [H, W, 3]
  const std::int64_t height = first.size(0), width = first.size(1);
  at::Tensor frames = at::empty({count, height, width, 3}, at::kByte);
  frames[0].copy_(first);
  for (std::int64_t i = 1; i < count; ++i) {
    const at::Tensor image = read_image_rgb(files[static_cast<std::size_t>(i)]);
    DUOGEN_CHECK(image.size(0) == height && image.size(1) == width, FormatError,
                 "{}: frame {} is {}x{} but the first frame ({}) is {}x{} (width x height)",
                 files[static_cast<std::size_t>(i)].string(), i, image.size(1), image.size(0),
                 files[0].filename().string(), width, height);
    frames[i].copy_(image);
  }
  return {frames, fps};
}

// uint8 [T, H, W, 3] with T, H, W >= 1, as a contiguous CPU tensor; InvalidArgument naming
// `what` and the problem otherwise.
at::Tensor checked_frames(const at::Tensor& frames, const fs::path& path, const char* what) {
  const std::string name = path.string();
  DUOGEN_CHECK(frames.defined(), InvalidArgument, "{}: {} got an undefined tensor", name, what);
  DUOGEN_CHECK(frames.dim() == 4 && frames.size(3) == 3, InvalidArgument,
               "{}: {} needs RGB frames [T, H, W, 3], got shape {}", name, what, frames.sizes());
  DUOGEN_CHECK(frames.scalar_type() == at::kByte, InvalidArgument,
               "{}: {} needs uint8 frames (0..255), got {}", name, what,
               c10::toString(frames.scalar_type()));
  DUOGEN_CHECK(frames.size(0) > 0 && frames.size(1) > 0 && frames.size(2) > 0, InvalidArgument,
               "{}: {} got an empty video, shape {}", name, what, frames.sizes());
  DUOGEN_CHECK(frames.size(0) <= INT32_MAX && frames.size(1) <= 16384 && frames.size(2) <= 16384,
               InvalidArgument, "{}: {} got frames too large to encode, shape {}", name, what,
               frames.sizes());
  return frames.to(at::kCPU).contiguous();
}

constexpr std::array<const char*, 10> kX264Presets = {
    "ultrafast", "superfast", "veryfast", "faster",   "fast",
    "medium",    "slow",      "slower",   "veryslow", "placebo"};

}  // namespace

VideoFrames read_video(const fs::path& path,
                       std::optional<std::int64_t> max_frames,
                       double directory_fps) {
  check_max_frames(max_frames, path);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    check_directory_fps(directory_fps, path);
    return read_frame_directory(path, max_frames, directory_fps);
  }
  return decode_video_file(path, max_frames);
}

VideoInfo probe_video(const fs::path& path, double directory_fps) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return probe_video_file(path);
  check_directory_fps(directory_fps, path);
  const std::vector<fs::path> files = frame_files_or_fail(path);
  const at::Tensor first = read_image_rgb(files[0]);
  std::set<std::string> codecs;  // "png", "jpeg", or "jpeg+png" for a mixed directory
  for (const fs::path& f : files) codecs.insert(lower_extension(f) == ".png" ? "png" : "jpeg");
  VideoInfo info;
  info.frames = static_cast<std::int64_t>(files.size());
  info.height = first.size(0);
  info.width = first.size(1);
  info.fps = directory_fps;
  info.duration = static_cast<double>(info.frames) / directory_fps;
  info.codec = fmt::format("{}", fmt::join(codecs, "+"));
  info.pixel_format = "rgb24";
  info.container = "directory";
  return info;
}

void write_mp4(const fs::path& path, const at::Tensor& frames, const VideoWriteOptions& options) {
  const std::string name = path.string();
  const at::Tensor pixels = checked_frames(frames, path, "write_mp4");
  DUOGEN_CHECK(std::isfinite(options.fps) && options.fps > 0 && options.fps <= 1000,
               InvalidArgument, "{}: write_mp4 needs 0 < fps <= 1000, got {}", name, options.fps);
  DUOGEN_CHECK(options.crf >= 0 && options.crf <= 51, InvalidArgument,
               "{}: write_mp4 needs crf in 0..51 (libx264, 8-bit), got {}", name, options.crf);
  DUOGEN_CHECK(
      std::find(kX264Presets.begin(), kX264Presets.end(), options.preset) != kX264Presets.end(),
      InvalidArgument, "{}: write_mp4: unknown libx264 preset '{}' (one of {})", name,
      options.preset, fmt::join(kX264Presets, ", "));
  DUOGEN_CHECK(pixels.size(1) % 2 == 0 && pixels.size(2) % 2 == 0, InvalidArgument,
               "{}: write_mp4 needs an even width and height (yuv420p halves the chroma), got "
               "{}x{} (width x height); crop or pad the frames",
               name, pixels.size(2), pixels.size(1));
  EncoderSpec spec;
  spec.muxer = "mp4";
  spec.encoder = "libx264";
  spec.pixel_format = "yuv420p";
  spec.fps = options.fps;
  spec.encoder_options = {{"crf", std::to_string(options.crf)}, {"preset", options.preset}};
  // The index (moov) before the media data: players can start before the whole file is read.
  spec.muxer_options = {{"movflags", "+faststart"}};
  encode_video_file(path, pixels, spec);
}

void write_frames_png(const fs::path& dir, const at::Tensor& frames) {
  const at::Tensor pixels = checked_frames(frames, dir, "write_frames_png");
  const std::int64_t count = pixels.size(0);
  std::error_code ec;
  fs::create_directories(dir, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot create the directory: {}", dir.string(), ec.message());
  const int digits = std::max(3, static_cast<int>(fmt::format("{}", count - 1).size()));
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < count; ++i) names.push_back(fmt::format("{:0{}d}.png", i, digits));
  const std::set<std::string> wanted(names.begin(), names.end());
  for (const fs::path& existing : list_frame_files(dir)) {
    DUOGEN_CHECK(wanted.count(existing.filename().string()) != 0, InvalidArgument,
                 "{}: the directory already holds frame files that would not be replaced ({}); "
                 "they would read back as part of the video: remove them or use another "
                 "directory",
                 dir.string(), existing.filename().string());
  }
  for (std::int64_t i = 0; i < count; ++i) {
    write_png(dir / names[static_cast<std::size_t>(i)], pixels[i]);
  }
}

}  // namespace duogen::io
