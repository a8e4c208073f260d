// Video files -> uint8 RGB [T, H, W, 3]: libavformat demuxes, libavcodec decodes, libswscale
// converts to RGB24. See io/video_io.h for the contract and docs/video.md for the choices.
#include <ATen/ATen.h>

#include <algorithm>
#include <climits>
#include <string_view>
#include <system_error>

#include "core/check.h"
#include "io/ffmpeg_util.h"
#include "io/video_codec.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;

struct Input {
  ffmpeg::InputPtr format;
  AVStream* stream = nullptr;  // the chosen video stream, owned by `format`
};

// FFmpeg's image demuxers (image2, png_pipe, jpeg_pipe, ...) present a still picture as a
// one-frame video; a picture given where a video is expected is a mistake worth reporting.
bool is_still_image_demuxer(std::string_view name) {
  return name == "image2" || name == "image2pipe" || name.ends_with("_pipe");
}

const char* media_type_name(AVMediaType type) {
  const char* name = av_get_media_type_string(type);
  return name != nullptr ? name : "unknown";
}

// The best video stream that is a real video (not an MP3's or MP4's cover picture).
AVStream* choose_video_stream(AVFormatContext* format, const std::string& name) {
  const int best = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  auto usable = [](const AVStream* s) {
    return s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
           !(s->disposition & AV_DISPOSITION_ATTACHED_PIC);
  };
  if (best >= 0 && usable(format->streams[best])) return format->streams[best];
  std::string kinds;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    AVStream* s = format->streams[i];
    if (usable(s)) return s;
    kinds += fmt::format("{}{}", kinds.empty() ? "" : ", ",
                         (s->disposition & AV_DISPOSITION_ATTACHED_PIC)
                             ? "cover picture"
                             : media_type_name(s->codecpar->codec_type));
  }
  DUOGEN_FAIL(FormatError, "{}: not a video: it has no video stream (streams: {})", name,
              kinds.empty() ? "none" : kinds);
}

Input open_input(const fs::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  DUOGEN_CHECK(fs::exists(status), IoError, "{}: no such file or directory", name);
  // Pipes and devices could block forever; only regular files are read.
  DUOGEN_CHECK(fs::is_regular_file(status), IoError, "{}: not a regular file", name);
  const auto size = fs::file_size(path, ec);
  DUOGEN_CHECK(!ec, IoError, "{}: cannot read the file size: {}", name, ec.message());
  DUOGEN_CHECK(size > 0, FormatError, "{}: not a video: the file is empty", name);

  ffmpeg::route_log();
  ffmpeg::clear_logged_error();
  AVDictionary* options = nullptr;
  // Local files only: a playlist or concat file must not make FFmpeg open other protocols.
  av_dict_set(&options, "protocol_whitelist", "file", 0);
  AVFormatContext* raw = nullptr;
  const int ret = avformat_open_input(&raw, ffmpeg::file_url(name).c_str(), nullptr, &options);
  av_dict_free(&options);
  if (ret == AVERROR(EACCES) || ret == AVERROR(ENOENT) || ret == AVERROR(EIO)) {
    DUOGEN_FAIL(IoError, "{}: cannot open the file: {}", name, ffmpeg::describe(ret));
  }
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: not a readable video: {}", name, ffmpeg::describe(ret));
  Input in{ffmpeg::InputPtr(raw)};
  const std::string_view demuxer = in.format->iformat->name;
  DUOGEN_CHECK(!is_still_image_demuxer(demuxer), FormatError,
               "{}: not a video: it is a still image ({}); read it with read_image_rgb, or give "
               "a directory of frames",
               name, demuxer);
  ffmpeg::clear_logged_error();
  const int info = avformat_find_stream_info(in.format.get(), nullptr);
  DUOGEN_CHECK(info >= 0, FormatError, "{}: cannot read the stream parameters: {}", name,
               ffmpeg::describe(info));
  in.stream = choose_video_stream(in.format.get(), name);
  return in;
}

ffmpeg::CodecPtr open_decoder(const Input& in, const std::string& name) {
  const AVCodecParameters* par = in.stream->codecpar;
  const AVCodec* decoder = avcodec_find_decoder(par->codec_id);
  DUOGEN_CHECK(decoder != nullptr, FormatError, "{}: no decoder for its video codec ({})", name,
               avcodec_get_name(par->codec_id));
  ffmpeg::CodecPtr dec(avcodec_alloc_context3(decoder));
  if (!dec) throw std::bad_alloc();
  int ret = avcodec_parameters_to_context(dec.get(), par);
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: bad {} parameters: {}", name, decoder->name,
               ffmpeg::describe(ret));
  // One thread: decoding stays deterministic and FFmpeg's messages come from this thread
  // (ffmpeg_util.h). H.264 at 720p still decodes at hundreds of frames per second.
  dec->thread_count = 1;
  dec->pkt_timebase = in.stream->time_base;
  ffmpeg::clear_logged_error();
  ret = avcodec_open2(dec.get(), decoder, nullptr);
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: cannot open the {} decoder: {}", name, decoder->name,
               ffmpeg::describe(ret));
  return dec;
}

double stream_fps(const AVStream* stream) {
  for (const AVRational rate : {stream->avg_frame_rate, stream->r_frame_rate}) {
    if (rate.num > 0 && rate.den > 0) return av_q2d(rate);
  }
  return 0;
}

// The YUV -> RGB matrix libswscale should use for a frame's colour space tag. Untagged video
// gets BT.601, as FFmpeg, PyAV and torchvision assume.
int swscale_colorspace(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_BT709:
      return SWS_CS_ITU709;
    case AVCOL_SPC_FCC:
      return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M:
      return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return SWS_CS_BT2020;
    default:  // BT470BG, SMPTE170M (both BT.601), unspecified, and the rest
      return SWS_CS_ITU601;
  }
}

// The deprecated full-range "J" formats as their plain equivalents, plus whether they were one.
std::pair<AVPixelFormat, bool> unjpeg(AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P:
      return {AV_PIX_FMT_YUV420P, true};
    case AV_PIX_FMT_YUVJ422P:
      return {AV_PIX_FMT_YUV422P, true};
    case AV_PIX_FMT_YUVJ444P:
      return {AV_PIX_FMT_YUV444P, true};
    case AV_PIX_FMT_YUVJ440P:
      return {AV_PIX_FMT_YUV440P, true};
    case AV_PIX_FMT_YUVJ411P:
      return {AV_PIX_FMT_YUV411P, true};
    default:
      return {format, false};
  }
}

// Decoded frames -> packed RGB24. The conversion is libswscale's with SWS_BILINEAR and no other
// flags, which is what PyAV's VideoFrame.to_ndarray(format="rgb24") (and so torchvision's
// read_video) asks for: for 4:2:0 input that is the unscaled YUV->RGB converter, with each
// chroma sample covering its 2x2 block. The matrix follows the frame's colour space tag and the
// range its colour range tag (full for JPEG-range and the yuvj formats, else limited); the RGB
// side is always full range. Alpha is dropped.
class RgbConverter {
 public:
  void convert(const AVFrame& frame, std::uint8_t* out, const std::string& name) {
    const auto [format, jpeg] = unjpeg(static_cast<AVPixelFormat>(frame.format));
    const bool full_range = jpeg || frame.color_range == AVCOL_RANGE_JPEG;
    const int space = swscale_colorspace(frame.colorspace);
    if (!scale_ || format != format_ || frame.width != width_ || frame.height != height_ ||
        full_range != full_range_ || space != space_) {
      setup(format, frame.width, frame.height, full_range, space, name);
    }
    int ret = av_frame_make_writable(rgb_.get());
    DUOGEN_CHECK(ret >= 0, FormatError, "{}: {}", name, ffmpeg::describe(ret));
    ret = sws_scale(scale_.get(), frame.data, frame.linesize, 0, frame.height, rgb_->data,
                    rgb_->linesize);
    DUOGEN_CHECK(ret == frame.height, FormatError, "{}: the RGB conversion failed", name);
    // The tensor rows are packed; the frame's are padded to the alignment FFmpeg wants.
    av_image_copy_plane(out, frame.width * 3, rgb_->data[0], rgb_->linesize[0], frame.width * 3,
                        frame.height);
  }

 private:
  void setup(AVPixelFormat format,
             int width,
             int height,
             bool full_range,
             int space,
             const std::string& name) {
    scale_.reset(sws_getContext(width, height, format, width, height, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, nullptr, nullptr, nullptr));
    DUOGEN_CHECK(scale_ != nullptr, FormatError, "{}: cannot convert {} frames to RGB", name,
                 av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "unknown");
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
    if (desc != nullptr && !(desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL))) {
      // YUV or grey input: the matrix and range of the source; RGB output is full range.
      const int* matrix = sws_getCoefficients(space);
      sws_setColorspaceDetails(scale_.get(), matrix, full_range ? 1 : 0, matrix, 1, 0, 1 << 16,
                               1 << 16);
    }
    rgb_ = ffmpeg::alloc_frame();
    rgb_->format = AV_PIX_FMT_RGB24;
    rgb_->width = width;
    rgb_->height = height;
    const int ret = av_frame_get_buffer(rgb_.get(), 0);
    DUOGEN_CHECK(ret >= 0, FormatError, "{}: {}", name, ffmpeg::describe(ret));
    format_ = format;
    width_ = width;
    height_ = height;
    full_range_ = full_range;
    space_ = space;
  }

  ffmpeg::ScalePtr scale_;
  ffmpeg::FramePtr rgb_;
  AVPixelFormat format_ = AV_PIX_FMT_NONE;
  int width_ = 0, height_ = 0;
  bool full_range_ = false;
  int space_ = -1;
};

// uint8 [T, H, W, 3] grown as frames arrive (capacity doubling), so a long video is not held
// twice as a list of frames and their stack.
class FrameStack {
 public:
  FrameStack(std::int64_t capacity, std::int64_t height, std::int64_t width)
      : height_(height), width_(width) {
    buffer_ = at::empty({std::max<std::int64_t>(capacity, 1), height, width, 3}, at::kByte);
  }
  std::int64_t size() const { return size_; }
  std::uint8_t* next() {
    if (size_ == buffer_.size(0)) {
      at::Tensor bigger = at::empty({2 * size_, height_, width_, 3}, at::kByte);
      bigger.narrow(0, 0, size_).copy_(buffer_);
      buffer_ = std::move(bigger);
    }
    return buffer_.data_ptr<std::uint8_t>() + (size_++) * height_ * width_ * 3;
  }
  at::Tensor take() {
    return size_ == buffer_.size(0) ? std::move(buffer_) : buffer_.narrow(0, 0, size_).clone();
  }

 private:
  at::Tensor buffer_;
  std::int64_t size_ = 0, height_, width_;
};

// How to read what a damaged file still holds, for its error message.
std::string decoded_before(std::int64_t frames) {
  if (frames == 0) return " (no frame could be decoded before the damage)";
  return fmt::format(" ({} frames could be decoded before it; pass max_frames to read only those)",
                     frames);
}

bool is_mov_family(const AVFormatContext* format) {
  return std::string_view(format->iformat->name).starts_with("mov,");
}

}  // namespace

VideoFrames decode_video_file(const fs::path& path, std::optional<std::int64_t> max_frames) {
  const std::string name = path.string();
  Input in = open_input(path);
  AVFormatContext* format = in.format.get();
  AVStream* stream = in.stream;
  const double fps = stream_fps(stream);
  DUOGEN_CHECK(fps > 0, FormatError, "{}: the video stream has no frame rate", name);
  ffmpeg::CodecPtr dec = open_decoder(in, name);

  const std::int64_t limit = max_frames.value_or(INT64_MAX);
  const std::int64_t width = stream->codecpar->width, height = stream->codecpar->height;
  DUOGEN_CHECK(width > 0 && height > 0, FormatError, "{}: the video stream has no frame size",
               name);
  // The container's count sizes the buffer, within reason: a header may lie.
  const std::int64_t hint =
      std::min<std::int64_t>({stream->nb_frames > 0 ? stream->nb_frames : 16, limit, 256});
  FrameStack frames(hint, height, width);
  RgbConverter converter;
  ffmpeg::PacketPtr packet = ffmpeg::alloc_packet();
  ffmpeg::FramePtr frame = ffmpeg::alloc_frame();

  // Receives every frame the decoder has ready; false once `limit` frames are in.
  auto receive = [&]() -> bool {
    while (true) {
      const int ret = avcodec_receive_frame(dec.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return true;
      DUOGEN_CHECK(ret >= 0, FormatError, "{}: frame {} failed to decode: {}", name, frames.size(),
                   ffmpeg::describe(ret));
      DUOGEN_CHECK(frame->decode_error_flags == 0 && !(frame->flags & AV_FRAME_FLAG_CORRUPT),
                   FormatError, "{}: frame {} is damaged (the decoder had to conceal errors{})",
                   name, frames.size(),
                   ffmpeg::logged_error().empty() ? "" : ": " + ffmpeg::logged_error());
      DUOGEN_CHECK(frame->width == width && frame->height == height, FormatError,
                   "{}: frame {} is {}x{} but the stream is {}x{} (width x height)", name,
                   frames.size(), frame->width, frame->height, width, height);
      converter.convert(*frame, frames.next(), name);
      av_frame_unref(frame.get());
      if (frames.size() >= limit) return false;
    }
  };

  std::int64_t packets = 0;  // of the video stream
  bool more = true;
  while (more) {
    ffmpeg::clear_logged_error();
    const int ret = av_read_frame(format, packet.get());
    if (ret == AVERROR_EOF) break;
    DUOGEN_CHECK(ret >= 0, FormatError,
                 "{}: damaged or truncated: reading failed after {} frames: {}", name,
                 frames.size(), ffmpeg::describe(ret));
    if (packet->stream_index != stream->index) {
      av_packet_unref(packet.get());
      continue;
    }
    ++packets;
    // libavformat flags a packet that the file ended in the middle of.
    const bool incomplete = packet->flags & AV_PKT_FLAG_CORRUPT;
    if (incomplete) av_packet_unref(packet.get());
    DUOGEN_CHECK(!incomplete, FormatError, "{}: truncated or damaged: packet {} is incomplete{}",
                 name, packets - 1, decoded_before(frames.size()));
    int sent = avcodec_send_packet(dec.get(), packet.get());
    if (sent == AVERROR(EAGAIN)) {  // output first (not expected: every send is drained)
      more = receive();
      sent = more ? avcodec_send_packet(dec.get(), packet.get()) : 0;
    }
    av_packet_unref(packet.get());
    DUOGEN_CHECK(sent >= 0, FormatError, "{}: frame {} failed to decode: {}", name, frames.size(),
                 ffmpeg::describe(sent));
    if (more) more = receive();
  }
  if (more) {  // end of file: drain the frames the decoder still holds (reordering delay)
    ffmpeg::clear_logged_error();
    avcodec_send_packet(dec.get(), nullptr);
    more = receive();
  }
  DUOGEN_CHECK(frames.size() > 0, FormatError, "{}: not a video: no frame could be decoded", name);
  if (more && is_mov_family(format)) {
    // MP4/MOV index every sample; a file cut at a sample boundary reads as shorter without
    // any incomplete packet. (After edit lists are applied: trimmed files are not truncated.)
    const int listed = avformat_index_get_entries_count(stream);
    DUOGEN_CHECK(packets >= listed, FormatError,
                 "{}: truncated: its index lists {} frames but the file holds only {}{}", name,
                 listed, packets, decoded_before(frames.size()));
  }
  return {frames.take(), fps};
}

VideoInfo probe_video_file(const fs::path& path) {
  const std::string name = path.string();
  Input in = open_input(path);
  const AVStream* stream = in.stream;
  const AVCodecParameters* par = stream->codecpar;
  VideoInfo info;
  info.width = par->width;
  info.height = par->height;
  info.fps = stream_fps(stream);
  DUOGEN_CHECK(info.fps > 0, FormatError, "{}: the video stream has no frame rate", name);
  info.codec = avcodec_get_name(par->codec_id);
  const char* pixel_format = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
  info.pixel_format = pixel_format != nullptr ? pixel_format : "unknown";
  info.container = in.format->iformat->name;
  info.frames = stream->nb_frames;
  if (info.frames <= 0) {  // WebM/MKV, GIF, ...: count the stream's packets, without decoding
    ffmpeg::PacketPtr packet = ffmpeg::alloc_packet();
    info.frames = 0;
    while (true) {
      ffmpeg::clear_logged_error();
      const int ret = av_read_frame(in.format.get(), packet.get());
      if (ret == AVERROR_EOF) break;
      DUOGEN_CHECK(ret >= 0, FormatError, "{}: damaged or truncated: {}", name,
                   ffmpeg::describe(ret));
      if (packet->stream_index == stream->index) ++info.frames;
      av_packet_unref(packet.get());
    }
  }
  if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
    info.duration = static_cast<double>(stream->duration) * av_q2d(stream->time_base);
  } else if (in.format->duration != AV_NOPTS_VALUE && in.format->duration > 0) {
    info.duration = static_cast<double>(in.format->duration) / AV_TIME_BASE;
  } else {
    info.duration = static_cast<double>(info.frames) / info.fps;
  }
  return info;
}

}  // namespace duogen::io
