// io/video_io.h: MP4 round trips (frame count, size, fps, pixels within the codec's error),
// probe metadata, other containers, frame directories, and every error path on files made here.
#include "io/video_io.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "duogen/error.h"
#include "io/image_io.h"
#include "io/video_codec.h"
#include "testing/expect_error.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

using testing::message_of;

namespace fs = std::filesystem;

// Smooth moving content: three sinusoidal gradients drifting in different directions and a
// soft (Gaussian) disc crossing the frame. No hard edges, so 4:2:0 chroma subsampling (one
// chroma sample per 2x2 pixels) costs little; values stay inside 20..240.
at::Tensor moving_gradients(std::int64_t frames, std::int64_t height, std::int64_t width) {
  const auto t = at::arange(frames, at::kFloat).view({frames, 1, 1});
  const auto y = at::arange(height, at::kFloat).view({1, height, 1});
  const auto x = at::arange(width, at::kFloat).view({1, 1, width});
  const double two_pi = 2 * M_PI;
  const auto r = 128 + 80 * at::sin(two_pi * (x / width + t / frames));
  const auto g = 128 + 80 * at::cos(two_pi * (y / height - t / (2.0 * frames)));
  const auto b = 128 + 60 * at::sin(two_pi * ((x + y) / (width + height) + t / (3.0 * frames)));
  const auto dx = x - (12 + 4 * t), dy = y - (14 + 2 * t);
  const auto disc = 30 * at::exp(-(dx * dx + dy * dy) / (2 * 6.0 * 6.0));
  return at::stack({r + disc, g + disc, b - disc}, 3).clamp(0, 255).round().to(at::kByte);
}

// Grey ramps that reach 0 and 255: a wrong YUV range (limited taken for full or the reverse)
// moves the ends by about 16 levels.
at::Tensor full_scale_ramps(std::int64_t frames, std::int64_t height, std::int64_t width) {
  const auto t = at::arange(frames, at::kFloat).view({frames, 1, 1});
  const auto x = at::arange(width, at::kFloat).view({1, 1, width});
  const auto y = at::arange(height, at::kFloat).view({1, height, 1});
  const auto ramp = (x * (255.0 / (width - 1)) + 0 * y + 0 * t).clamp(0, 255);
  // Dark and bright margins of flat black and white, where clipping would show.
  const auto grey = at::where(x < 8, at::zeros_like(ramp),
                              at::where(x >= width - 8, at::full_like(ramp, 255), ramp));
  return grey.unsqueeze(3).expand({frames, height, width, 3}).round().to(at::kByte).contiguous();
}

struct Error {
  double max = 0;   // max |a - b| over every pixel and channel, in 8-bit levels
  double mean = 0;  // mean |a - b|
};
Error error_between(const at::Tensor& a, const at::Tensor& b) {
  const auto d = (a.to(at::kFloat) - b.to(at::kFloat)).abs();
  return {d.max().item<double>(), d.mean().item<double>()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
}

std::uint32_t be32(const std::string& bytes, std::size_t at) {
  return (std::uint32_t{static_cast<std::uint8_t>(bytes[at])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 2])} << 8) |
         std::uint32_t{static_cast<std::uint8_t>(bytes[at + 3])};
}

struct Box {
  std::size_t offset = 0;  // of the box header
  std::size_t size = 0;    // header included
};
// The MP4 box at `path` (e.g. {"moov", "trak", ...}) found by walking 32-bit box headers.
Box find_box(const std::string& bytes, const std::vector<std::string>& path) {
  std::size_t begin = 0, end = bytes.size();
  Box box;
  for (const std::string& type : path) {
    bool found = false;
    for (std::size_t at = begin; at + 8 <= end;) {
      const std::size_t size = be32(bytes, at);
      if (size < 8 || at + size > end) break;
      if (bytes.compare(at + 4, 4, type) == 0) {
        box = {at, size};
        begin = at + 8;
        end = at + size;
        found = true;
        break;
      }
      at += size;
    }
    if (!found) throw std::runtime_error("no MP4 box " + type);
  }
  return box;
}

// The sample sizes in an MP4's first track (its stsz box).
std::vector<std::size_t> sample_sizes(const std::string& mp4) {
  const Box stsz = find_box(mp4, {"moov", "trak", "mdia", "minf", "stbl", "stsz"});
  const std::size_t payload = stsz.offset + 8;
  const std::uint32_t fixed = be32(mp4, payload + 4), count = be32(mp4, payload + 8);
  std::vector<std::size_t> sizes;
  for (std::uint32_t i = 0; i < count; ++i) {
    sizes.push_back(fixed != 0 ? fixed : be32(mp4, payload + 12 + 4 * i));
  }
  return sizes;
}

// A mono 16-bit PCM WAV file of silence: a file FFmpeg reads, with no video in it.
std::string wav_bytes() {
  const std::uint32_t rate = 8000, data_size = 1600;
  std::string out;
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  auto u16 = [&](std::uint16_t v) {
    out.push_back(static_cast<char>(v & 0xff));
    out.push_back(static_cast<char>(v >> 8));
  };
  out += "RIFF";
  u32(36 + data_size);
  out += "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  out += "data";
  u32(data_size);
  out.append(data_size, '\0');
  return out;
}

class VideoIoTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("video"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// The measured round-trip error of write_mp4 (libx264 crf 18, preset medium, yuv420p BT.709
// limited range) then read_video on moving_gradients(9, 48, 64): max 19, mean 3.09 levels.
// Most of it is not the codec: at crf 0 (lossless H.264) it is still max 14, mean 2.50, which
// is what 4:2:0 chroma costs on gradients of up to 8 levels per pixel when each 2x2 block shows
// its one chroma sample (read_video converts as PyAV does; an ideal float BT.709 round trip
// with box-filtered chroma gives max 13, mean 2.23); crf 18 quantisation adds the rest. Bounds:
// about 1.2x the measurements, room for other x264 builds and thread counts. A wrong matrix or
// range, swapped channels or a shifted frame give errors of tens of levels.
constexpr double kMp4MaxError = 24;
constexpr double kMp4MeanError = 3.6;
constexpr double kLosslessMp4MaxError = 17;
constexpr double kLosslessMp4MeanError = 3.0;

TEST_F(VideoIoTest, Mp4RoundTripKeepsCountSizeFpsAndPixelsWithinTheCodecError) {
  const at::Tensor frames = moving_gradients(9, 48, 64);
  const fs::path path = dir_ / "clip.mp4";
  write_mp4(path, frames, {});
  const VideoFrames back = read_video(path);
  ASSERT_EQ(back.frames.sizes(), frames.sizes());
  EXPECT_EQ(back.frames.scalar_type(), at::kByte);
  EXPECT_TRUE(back.frames.is_contiguous());
  EXPECT_DOUBLE_EQ(back.fps, 16.0);
  const Error e = error_between(back.frames, frames);
  std::printf("[ measure  ] mp4 crf 18 round trip: max %.0f, mean %.3f levels\n", e.max, e.mean);
  EXPECT_LE(e.max, kMp4MaxError);
  EXPECT_LE(e.mean, kMp4MeanError);
  // Frame order: each decoded frame is closest to the original of the same index.
  for (std::int64_t t = 0; t < 9; ++t) {
    const double same = error_between(back.frames[t], frames[t]).mean;
    for (std::int64_t u = 0; u < 9; ++u) {
      if (u == t) continue;
      EXPECT_LT(same, error_between(back.frames[t], frames[u]).mean) << t << " " << u;
    }
  }
  EXPECT_EQ(entries(dir_), 1u);  // no temporary left

  write_mp4(dir_ / "lossless.mp4", frames, {.crf = 0});
  const Error lossless = error_between(read_video(dir_ / "lossless.mp4").frames, frames);
  std::printf("[ measure  ] mp4 crf 0 round trip: max %.0f, mean %.3f levels\n", lossless.max,
              lossless.mean);
  EXPECT_LE(lossless.max, kLosslessMp4MaxError);
  EXPECT_LE(lossless.mean, kLosslessMp4MeanError);
}

TEST_F(VideoIoTest, NamesWithColonsArePaths) {
  // FFmpeg would take "clip:" for a protocol; the file: prefix keeps it a file name.
  const fs::path path = dir_ / "clip:1.mp4";
  write_mp4(path, moving_gradients(2, 16, 16), {.preset = "ultrafast"});
  EXPECT_EQ(read_video(path).frames.size(0), 2);
  EXPECT_EQ(entries(dir_), 1u);
}

TEST_F(VideoIoTest, ProbeReportsTheMetadataPlayersSee) {
  const fs::path path = dir_ / "clip.mp4";
  write_mp4(path, moving_gradients(9, 48, 64), {});
  const VideoInfo info = probe_video(path);
  EXPECT_EQ(info.frames, 9);
  EXPECT_EQ(info.width, 64);
  EXPECT_EQ(info.height, 48);
  EXPECT_DOUBLE_EQ(info.fps, 16.0);
  EXPECT_NEAR(info.duration, 9.0 / 16.0, 1e-3);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_EQ(info.pixel_format, "yuv420p");
  EXPECT_TRUE(contains(info.container, "mp4")) << info.container;
  // +faststart: the index (moov) comes before the media data (mdat).
  const std::string bytes = testing::read_bytes(path);
  EXPECT_LT(find_box(bytes, {"moov"}).offset, find_box(bytes, {"mdat"}).offset);
}

TEST_F(VideoIoTest, FrameRatesAreStoredExactly) {
  for (const double fps : {24.0, 30000.0 / 1001.0, 8.0}) {
    SCOPED_TRACE(fps);
    const fs::path path = dir_ / "rate.mp4";
    write_mp4(path, moving_gradients(5, 16, 16), {.fps = fps, .preset = "ultrafast"});
    const VideoInfo info = probe_video(path);
    EXPECT_NEAR(info.fps, fps, 1e-9);
    EXPECT_EQ(info.frames, 5);
    EXPECT_NEAR(info.duration, 5.0 / fps, 1e-3);
    EXPECT_NEAR(read_video(path).fps, fps, 1e-9);
  }
}

TEST_F(VideoIoTest, MaxFramesReadsTheStart) {
  const fs::path path = dir_ / "clip.mp4";
  write_mp4(path, moving_gradients(9, 48, 64), {});
  const at::Tensor all = read_video(path).frames;
  const at::Tensor first = read_video(path, 4).frames;
  ASSERT_EQ(first.size(0), 4);
  EXPECT_TRUE(at::equal(first, all.narrow(0, 0, 4)));
  EXPECT_EQ(read_video(path, 100).frames.size(0), 9);
  EXPECT_TRUE(contains(message_of<InvalidArgument>([&] { read_video(path, 0); }), "max_frames"));
}

TEST_F(VideoIoTest, NonContiguousInputIsWrittenAsItsValues) {
  const at::Tensor frames = moving_gradients(3, 32, 32);
  const at::Tensor strided = frames.permute({0, 3, 1, 2}).contiguous().permute({0, 2, 3, 1});
  ASSERT_FALSE(strided.is_contiguous());
  write_mp4(dir_ / "a.mp4", frames, {.preset = "ultrafast"});
  write_mp4(dir_ / "b.mp4", strided, {.preset = "ultrafast"});
  EXPECT_TRUE(at::equal(read_video(dir_ / "a.mp4").frames, read_video(dir_ / "b.mp4").frames));
}

// Limited-range (write_mp4) and full-range (x264 with the full-range flag) files of content that
// reaches 0 and 255 both read back to it: the reader applies each stream's range.
TEST_F(VideoIoTest, ColourRangeOfTheStreamIsHonoured) {
  const at::Tensor frames = full_scale_ramps(3, 32, 64);
  write_mp4(dir_ / "limited.mp4", frames, {.crf = 0});
  EncoderSpec full{"mp4", "libx264", "yuv420p", 16, {{"crf", "0"}}, {}};
  full.full_range = true;
  encode_video_file(dir_ / "full.mp4", frames, full);
  EncoderSpec mjpeg{
      "avi", "mjpeg", "yuvj420p", 16, {{"flags", "+qscale"}, {"global_quality", "118"}}, {}};
  mjpeg.full_range = true;
  encode_video_file(dir_ / "mjpeg.avi", frames, mjpeg);
  for (const char* name : {"limited.mp4", "full.mp4", "mjpeg.avi"}) {
    SCOPED_TRACE(name);
    const at::Tensor back = read_video(dir_ / name).frames;
    const Error e = error_between(back, frames);
    std::printf("[ measure  ] %s grey ramps: max %.0f, mean %.3f levels\n", name, e.max, e.mean);
    // Measured: max 1-2, mean < 0.5 (rounding in the YUV round trip of grey). A range
    // mix-up shifts black or white by about 16.
    EXPECT_LE(e.max, 4);
    EXPECT_LE(e.mean, 1.0);
  }
}

struct ContainerCase {
  const char* file;
  EncoderSpec spec;
  double max_mean_error;  // about 1.2x the measured mean error (in the comment beside each)
};

// Containers and codecs other than MP4/H.264, written through the same FFmpeg path.
TEST_F(VideoIoTest, OtherContainersReadBack) {
  const std::vector<ContainerCase> cases = {
      // Measured 3.09: the MP4 case's stream.
      {"clip.mkv", {"matroska", "libx264", "yuv420p", 16, {{"crf", "18"}}, {}}, 3.6},
      {"clip.webm",
       {"webm",
        "libvpx-vp9",
        "yuv420p",
        16,
        {{"crf", "20"}, {"b", "0"}, {"deadline", "realtime"}, {"cpu-used", "8"}},
        {}},
       3.5},  // measured 2.90
      // MPEG-4 part 2 at its default quantiser range: measured 6.60.
      {"clip.avi", {"avi", "mpeg4", "yuv420p", 16, {{"b", "4000000"}}, {}}, 8},
      // GIF: RGB 3:3:2 colours (8 red, 8 green, 4 blue levels), measured 15.7; timing in 1/100 s.
      {"clip.gif", {"gif", "gif", "rgb8", 10, {}, {}}, 19},
  };
  const at::Tensor frames = moving_gradients(9, 48, 64);
  for (const ContainerCase& c : cases) {
    SCOPED_TRACE(c.file);
    const fs::path path = dir_ / c.file;
    encode_video_file(path, frames, c.spec);
    const VideoFrames back = read_video(path);
    ASSERT_EQ(back.frames.sizes(), frames.sizes());
    EXPECT_NEAR(back.fps, c.spec.fps, 1e-6);
    const Error e = error_between(back.frames, frames);
    std::printf("[ measure  ] %s: max %.0f, mean %.3f levels\n", c.file, e.max, e.mean);
    EXPECT_LE(e.mean, c.max_mean_error);
    const VideoInfo info = probe_video(path);
    EXPECT_EQ(info.frames, 9);
    EXPECT_EQ(info.width, 64);
    EXPECT_EQ(info.height, 48);
  }
}

// ---------------------------------------------------------------------------------------------
// Frame directories.

TEST_F(VideoIoTest, FrameDirectoryRoundTripIsExact) {
  const at::Tensor frames = moving_gradients(4, 20, 30);
  const fs::path dir = dir_ / "frames";
  write_frames_png(dir, frames);
  EXPECT_TRUE(fs::exists(dir / "000.png"));
  EXPECT_TRUE(fs::exists(dir / "003.png"));
  EXPECT_EQ(entries(dir), 4u);
  const VideoFrames back = read_video(dir);
  EXPECT_TRUE(at::equal(back.frames, frames));
  EXPECT_DOUBLE_EQ(back.fps, kFrameDirectoryFps);
  EXPECT_DOUBLE_EQ(read_video(dir, {}, 8).fps, 8);
  EXPECT_TRUE(at::equal(read_video(dir, 2).frames, frames.narrow(0, 0, 2)));
  const VideoInfo info = probe_video(dir);
  EXPECT_EQ(info.frames, 4);
  EXPECT_EQ(info.width, 30);
  EXPECT_EQ(info.height, 20);
  EXPECT_EQ(info.codec, "png");
  EXPECT_EQ(info.container, "directory");
  EXPECT_DOUBLE_EQ(info.duration, 4 / kFrameDirectoryFps);
  // Rewriting the same names replaces them.
  write_frames_png(dir, frames.flip(0));
  EXPECT_TRUE(at::equal(read_video(dir).frames, frames.flip(0)));
}

TEST_F(VideoIoTest, FrameDirectoryIsSortedByNameAndSkipsOtherFiles) {
  const fs::path dir = dir_ / "frames";
  fs::create_directory(dir);
  auto solid = [](int value) { return at::full({6, 8, 3}, value, at::kByte); };
  // Written out of order, mixed extensions and case.
  write_png(dir / "002.png", solid(30));
  write_png(dir / "000.PNG", solid(10));
  write_png(dir / "001.png", solid(20));
  testing::write_bytes(dir / "result.json", "{}");
  testing::write_bytes(dir / ".003.png", "not an image: dot-files are skipped");
  fs::create_directory(dir / "004.png");  // a directory, not a frame
  const at::Tensor frames = read_video(dir).frames;
  ASSERT_EQ(frames.size(0), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(frames[i][0][0][0].item<int>(), 10 * (i + 1)) << i;
}

TEST_F(VideoIoTest, FrameDirectoryErrorsNameTheFile) {
  const fs::path dir = dir_ / "frames";
  fs::create_directory(dir);
  std::string what = message_of<FormatError>([&] { read_video(dir); });
  EXPECT_TRUE(contains(what, dir.string()) && contains(what, "no frames")) << what;

  write_png(dir / "000.png", at::zeros({6, 8, 3}, at::kByte));
  write_png(dir / "001.png", at::zeros({6, 10, 3}, at::kByte));
  what = message_of<FormatError>([&] { read_video(dir); });
  EXPECT_TRUE(contains(what, (dir / "001.png").string()) && contains(what, "10x6") &&
              contains(what, "8x6"))
      << what;
  EXPECT_EQ(read_video(dir, 1).frames.size(0), 1);  // the mismatch is past max_frames

  write_png(dir / "001.png", at::zeros({6, 8, 3}, at::kByte));
  testing::write_bytes(dir / "002.png", "this is not a PNG");
  what = message_of<FormatError>([&] { read_video(dir); });
  EXPECT_TRUE(contains(what, (dir / "002.png").string())) << what;

  what = message_of<InvalidArgument>([&] { read_video(dir, {}, 0); });
  EXPECT_TRUE(contains(what, "fps")) << what;
}

TEST_F(VideoIoTest, WriteFramesRefusesADirectoryWithOtherFrames) {
  const fs::path dir = dir_ / "frames";
  write_frames_png(dir, moving_gradients(5, 8, 8));
  const std::string what =
      message_of<InvalidArgument>([&] { write_frames_png(dir, moving_gradients(3, 8, 8)); });
  EXPECT_TRUE(contains(what, dir.string()) && contains(what, "003.png")) << what;
  EXPECT_EQ(read_video(dir).frames.size(0), 5);  // untouched
}

// ---------------------------------------------------------------------------------------------
// Files that are not (whole) videos.

TEST_F(VideoIoTest, MissingFileIsAnIoError) {
  const fs::path path = dir_ / "missing.mp4";
  std::string what = message_of<IoError>([&] { read_video(path); });
  EXPECT_TRUE(contains(what, path.string()) && contains(what, "no such file")) << what;
  what = message_of<IoError>([&] { probe_video(path); });
  EXPECT_TRUE(contains(what, path.string())) << what;
}

TEST_F(VideoIoTest, FilesThatAreNotVideosAreFormatErrors) {
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng() & 0xff);
  testing::write_bytes(dir_ / "noise.mp4", noise);
  testing::write_bytes(dir_ / "empty.mp4", "");
  testing::write_bytes(dir_ / "sound.mp4", wav_bytes());
  write_png(dir_ / "image.mp4", moving_gradients(1, 16, 16)[0]);
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"noise.mp4", "not a readable video"},
      {"empty.mp4", "empty"},
      {"sound.mp4", "no video stream (streams: audio)"},
      {"image.mp4", "still image"},
  };
  for (const auto& [file, fragment] : cases) {
    SCOPED_TRACE(file);
    const fs::path path = dir_ / file;
    for (int probe = 0; probe < 2; ++probe) {
      const std::string what = message_of<FormatError>([&] {
        if (probe != 0) {
          probe_video(path);
        } else {
          read_video(path);
        }
      });
      EXPECT_TRUE(contains(what, path.string()) && contains(what, fragment)) << what;
    }
  }
}

class TruncatedMp4Test : public VideoIoTest {
 protected:
  void SetUp() override {
    VideoIoTest::SetUp();
    write_mp4(dir_ / "whole.mp4", moving_gradients(9, 48, 64), {});
    bytes_ = testing::read_bytes(dir_ / "whole.mp4");
  }
  fs::path cut(std::size_t size) {
    const fs::path path = dir_ / fmt::format("cut-{}.mp4", size);
    testing::write_bytes(path, bytes_.substr(0, size));
    return path;
  }
  std::string bytes_;
};

// Strict: a file that ends early is an error saying so, never a silently shorter video.
TEST_F(TruncatedMp4Test, EndingInsideAFrameIsAnError) {
  const Box mdat = find_box(bytes_, {"mdat"});
  for (const std::size_t size : {bytes_.size() - 1, mdat.offset + mdat.size / 2}) {
    SCOPED_TRACE(size);
    const fs::path path = cut(size);
    const std::string what = message_of<FormatError>([&] { read_video(path); });
    EXPECT_TRUE(contains(what, path.string()) && contains(what, "truncated") &&
                contains(what, "incomplete"))
        << what;
  }
}

TEST_F(TruncatedMp4Test, EndingBetweenFramesIsAnErrorButTheStartStaysReadable) {
  // The last sample is the end of the file (+faststart puts the mdat last).
  const std::vector<std::size_t> samples = sample_sizes(bytes_);
  ASSERT_EQ(samples.size(), 9u);
  const fs::path path = cut(bytes_.size() - samples.back());
  const std::string what = message_of<FormatError>([&] { read_video(path); });
  EXPECT_TRUE(contains(what, path.string()) && contains(what, "truncated") &&
              contains(what, "lists 9 frames but the file holds only 8"))
      << what;
  const at::Tensor whole = read_video(dir_ / "whole.mp4").frames;
  EXPECT_TRUE(at::equal(read_video(path, 4).frames, whole.narrow(0, 0, 4)));
}

TEST_F(TruncatedMp4Test, EndingInsideTheIndexIsNotAReadableVideo) {
  const Box moov = find_box(bytes_, {"moov"});
  const fs::path path = cut(moov.offset + moov.size / 2);
  const std::string what = message_of<FormatError>([&] { read_video(path); });
  EXPECT_TRUE(contains(what, path.string()) && contains(what, "not a readable video")) << what;
}

TEST_F(TruncatedMp4Test, EveryCutFailsCleanly) {
  // Whatever the cut, an error from the hierarchy or (cut after the last byte) the video.
  for (std::size_t size = 1; size < bytes_.size(); size += 97) {
    SCOPED_TRACE(size);
    EXPECT_THROW(read_video(cut(size)), FormatError);
  }
}

TEST_F(TruncatedMp4Test, DamagedFrameDataIsAnError) {
  // Garbage over the middle of the media data, from a fixed seed.
  const Box mdat = find_box(bytes_, {"mdat"});
  std::mt19937 rng(3);
  std::string damaged = bytes_;
  for (std::size_t i = mdat.offset + mdat.size / 3; i < mdat.offset + mdat.size / 2; ++i) {
    damaged[i] = static_cast<char>(rng() & 0xff);
  }
  const fs::path path = dir_ / "damaged.mp4";
  testing::write_bytes(path, damaged);
  const std::string what = message_of<FormatError>([&] { read_video(path); });
  EXPECT_TRUE(contains(what, path.string()) &&
              (contains(what, "failed to decode") || contains(what, "is damaged")))
      << what;
}

// ---------------------------------------------------------------------------------------------
// write_mp4's argument checks and atomicity.

TEST_F(VideoIoTest, WriteMp4RejectsBadTensorsAndOptionsNamingTheProblem) {
  const fs::path path = dir_ / "out.mp4";
  const at::Tensor good = moving_gradients(2, 16, 16);
  const std::vector<std::pair<at::Tensor, std::string>> tensors = {
      {at::Tensor(), "undefined"},
      {good.to(at::kFloat), "uint8"},
      {good[0], "[T, H, W, 3]"},
      {at::zeros({2, 16, 16, 4}, at::kByte), "[T, H, W, 3]"},
      {at::zeros({0, 16, 16, 3}, at::kByte), "empty"},
      {at::zeros({2, 16, 15, 3}, at::kByte), "15x16"},
      {at::zeros({2, 15, 16, 3}, at::kByte), "16x15"},
  };
  for (const auto& [tensor, fragment] : tensors) {
    SCOPED_TRACE(fragment);
    const std::string what = message_of<InvalidArgument>([&] { write_mp4(path, tensor, {}); });
    EXPECT_TRUE(contains(what, path.string()) && contains(what, fragment)) << what;
  }
  EXPECT_TRUE(
      contains(message_of<InvalidArgument>([&] { write_mp4(path, good, {.fps = 0}); }), "fps"));
  EXPECT_TRUE(
      contains(message_of<InvalidArgument>([&] { write_mp4(path, good, {.crf = 52}); }), "crf"));
  EXPECT_TRUE(
      contains(message_of<InvalidArgument>([&] { write_mp4(path, good, {.preset = "fastest"}); }),
               "fastest"));
  EXPECT_EQ(entries(dir_), 0u);
}

TEST_F(VideoIoTest, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  const fs::path path = dir_ / "out.mp4";
  const at::Tensor frames = moving_gradients(3, 16, 16);
  write_mp4(path, frames, {.preset = "ultrafast"});
  const std::string before = testing::read_bytes(path);
  // Fails after the temporary file exists: the GIF muxer refuses an H.264 stream.
  const std::string what = message_of<FormatError>([&] {
    encode_video_file(path, frames, {"gif", "libx264", "yuv420p", 16, {}, {}});
  });
  EXPECT_TRUE(contains(what, path.string())) << what;
  // Fails after the whole file is encoded: the rename onto a directory.
  const fs::path occupied = dir_ / "occupied.mp4";
  fs::create_directory(occupied);
  EXPECT_TRUE(
      contains(message_of<IoError>([&] { write_mp4(occupied, frames, {}); }), occupied.string()));
  EXPECT_EQ(testing::read_bytes(path), before);
  EXPECT_EQ(entries(dir_), 2u);  // out.mp4 and the directory: no temporary file
  EXPECT_TRUE(fs::is_empty(occupied));
  // No directory to write into.
  const fs::path nowhere = dir_ / "missing" / "out.mp4";
  EXPECT_TRUE(
      contains(message_of<IoError>([&] { write_mp4(nowhere, frames, {}); }), nowhere.string()));
}

}  // namespace
}  // namespace duogen::io
