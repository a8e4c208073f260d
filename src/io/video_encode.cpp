// uint8 RGB [T, H, W, 3] -> a video file: libswscale converts to the encoder's pixel format,
// libavcodec encodes, libavformat muxes into a temporary file that is renamed into place.
#include <ATen/ATen.h>

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/ffmpeg_util.h"
#include "io/video_codec.h"

namespace duogen::io {
namespace {

// Options FFmpeg did not consume are typos or options of another encoder; both are bugs.
void check_all_used(AVDictionary* left, const std::string& name, const std::string& what) {
  const AVDictionaryEntry* entry = av_dict_get(left, "", nullptr, AV_DICT_IGNORE_SUFFIX);
  DUOGEN_CHECK(entry == nullptr, InvalidArgument, "{}: the {} has no option '{}'", name, what,
               entry != nullptr ? entry->key : "");
}

AVDictionary* to_dictionary(const OptionList& options) {
  AVDictionary* dict = nullptr;
  for (const auto& [key, value] : options) av_dict_set(&dict, key.c_str(), value.c_str(), 0);
  return dict;
}

bool is_yuv(const AVPixFmtDescriptor* desc) {
  return !(desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) && desc->nb_components >= 3;
}

}  // namespace

void encode_video_file(const std::filesystem::path& path,
                       const at::Tensor& frames,
                       const EncoderSpec& spec) {
  const std::string name = path.string();
  const int count = static_cast<int>(frames.size(0));
  const int height = static_cast<int>(frames.size(1)), width = static_cast<int>(frames.size(2));
  ffmpeg::route_log();
  ffmpeg::clear_logged_error();

  const AVOutputFormat* muxer = av_guess_format(spec.muxer.c_str(), nullptr, nullptr);
  DUOGEN_CHECK(muxer != nullptr, InvalidArgument, "{}: FFmpeg has no '{}' muxer", name, spec.muxer);
  const AVCodec* codec = avcodec_find_encoder_by_name(spec.encoder.c_str());
  DUOGEN_CHECK(codec != nullptr && codec->type == AVMEDIA_TYPE_VIDEO, InvalidArgument,
               "{}: this FFmpeg build has no '{}' video encoder", name, spec.encoder);
  const AVPixelFormat pixel_format = av_get_pix_fmt(spec.pixel_format.c_str());
  DUOGEN_CHECK(pixel_format != AV_PIX_FMT_NONE, InvalidArgument, "{}: unknown pixel format '{}'",
               name, spec.pixel_format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(pixel_format);
  const int step_w = 1 << desc->log2_chroma_w, step_h = 1 << desc->log2_chroma_h;
  DUOGEN_CHECK(width % step_w == 0 && height % step_h == 0, InvalidArgument,
               "{}: {} needs the width to be a multiple of {} and the height of {} (chroma "
               "subsampling), got {}x{} (width x height); crop or pad the frames",
               name, spec.pixel_format, step_w, step_h, width, height);
  DUOGEN_CHECK(std::isfinite(spec.fps) && spec.fps > 0, InvalidArgument,
               "{}: fps must be positive, got {}", name, spec.fps);
  // 16 -> 16/1, 29.97002997 -> 30000/1001: the rate as the container stores it.
  const AVRational rate = av_d2q(spec.fps, 100000);
  DUOGEN_CHECK(rate.num > 0 && rate.den > 0, InvalidArgument, "{}: unusable fps {}", name,
               spec.fps);

  // The temporary file is created first (IoError naming the target if the directory is not
  // writable); from here on every exit without commit() removes it.
  AtomicFileWriter file(path);
  const std::string url = ffmpeg::file_url(file.temp_path().string());
  AVFormatContext* raw = nullptr;
  int ret = avformat_alloc_output_context2(&raw, muxer, nullptr, url.c_str());
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: cannot set up the {} muxer: {}", name, spec.muxer,
               ffmpeg::describe(ret));
  ffmpeg::OutputPtr out(raw);
  AVStream* stream = avformat_new_stream(out.get(), nullptr);
  if (stream == nullptr) throw std::bad_alloc();

  ffmpeg::CodecPtr enc(avcodec_alloc_context3(codec));
  if (!enc) throw std::bad_alloc();
  enc->width = width;
  enc->height = height;
  enc->pix_fmt = pixel_format;
  enc->time_base = av_inv_q(rate);  // pts counts frames
  enc->framerate = rate;
  enc->sample_aspect_ratio = AVRational{1, 1};
  if (is_yuv(desc)) {
    // Tagged BT.709 limited range, the usual HD choice; readers that honour the tags (FFmpeg,
    // browsers, io::read_video) invert exactly this matrix.
    enc->color_range = spec.full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_BT709;
    enc->color_primaries = AVCOL_PRI_BT709;
    enc->color_trc = AVCOL_TRC_BT709;
  }
  if (out->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* encoder_options = to_dictionary(spec.encoder_options);
  ffmpeg::clear_logged_error();
  ret = avcodec_open2(enc.get(), codec, &encoder_options);
  std::unique_ptr<AVDictionary, ffmpeg::DictionaryDeleter> encoder_left(encoder_options);
  DUOGEN_CHECK(ret >= 0, InvalidArgument, "{}: the {} encoder refused its settings: {}", name,
               spec.encoder, ffmpeg::describe(ret));
  check_all_used(encoder_left.get(), name, spec.encoder + " encoder");
  ret = avcodec_parameters_from_context(stream->codecpar, enc.get());
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: {}", name, ffmpeg::describe(ret));
  stream->time_base = enc->time_base;  // a hint: the muxer may pick a finer one
  stream->avg_frame_rate = rate;

  ffmpeg::clear_logged_error();
  ret = avio_open(&out->pb, url.c_str(), AVIO_FLAG_WRITE);
  DUOGEN_CHECK(ret >= 0, IoError, "{}: cannot write the temporary file: {}", name,
               ffmpeg::describe(ret));
  AVDictionary* muxer_options = to_dictionary(spec.muxer_options);
  ret = avformat_write_header(out.get(), &muxer_options);
  std::unique_ptr<AVDictionary, ffmpeg::DictionaryDeleter> muxer_left(muxer_options);
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: the {} muxer refused the {} stream: {}", name,
               spec.muxer, spec.encoder, ffmpeg::describe(ret));
  check_all_used(muxer_left.get(), name, spec.muxer + " muxer");

  // RGB24 -> the encoder's format. Bicubic chroma downsampling from full-resolution chroma
  // (SWS_FULL_CHR_H_INP) with accurate rounding, BT.709 (limited range unless asked) for YUV.
  ffmpeg::ScalePtr scale(sws_getContext(
      width, height, AV_PIX_FMT_RGB24, width, height, pixel_format,
      SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr, nullptr));
  DUOGEN_CHECK(scale != nullptr, InvalidArgument, "{}: cannot convert RGB frames to {}", name,
               spec.pixel_format);
  if (is_yuv(desc)) {
    const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(scale.get(), bt709, 1, bt709, spec.full_range ? 1 : 0, 0, 1 << 16,
                             1 << 16);
  }
  // FFmpeg-allocated frames: aligned and padded as libswscale's SIMD code expects.
  ffmpeg::FramePtr rgb = ffmpeg::alloc_frame();
  rgb->format = AV_PIX_FMT_RGB24;
  rgb->width = width;
  rgb->height = height;
  ffmpeg::FramePtr frame = ffmpeg::alloc_frame();
  frame->format = pixel_format;
  frame->width = width;
  frame->height = height;
  DUOGEN_CHECK(av_frame_get_buffer(rgb.get(), 0) >= 0 && av_frame_get_buffer(frame.get(), 0) >= 0,
               FormatError, "{}: cannot allocate {}x{} frames", name, width, height);

  ffmpeg::PacketPtr packet = ffmpeg::alloc_packet();
  auto write_packets = [&] {
    while (true) {
      int r = avcodec_receive_packet(enc.get(), packet.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      DUOGEN_CHECK(r >= 0, FormatError, "{}: {} encoding failed: {}", name, spec.encoder,
                   ffmpeg::describe(r));
      // Every frame lasts one tick of the encoder's time base; the muxer needs it for the last
      // frame's duration (and so the file's), which no next timestamp tells it.
      if (packet->duration <= 0) packet->duration = 1;
      av_packet_rescale_ts(packet.get(), enc->time_base, stream->time_base);
      packet->stream_index = stream->index;
      r = av_interleaved_write_frame(out.get(), packet.get());  // takes the packet's data
      DUOGEN_CHECK(r >= 0, IoError, "{}: writing failed: {}", name, ffmpeg::describe(r));
    }
  };

  const auto* pixels = frames.data_ptr<std::uint8_t>();
  const std::int64_t frame_bytes = std::int64_t{width} * height * 3;
  for (int t = 0; t < count; ++t) {
    ffmpeg::clear_logged_error();
    ret = av_frame_make_writable(frame.get());
    DUOGEN_CHECK(ret >= 0, FormatError, "{}: {}", name, ffmpeg::describe(ret));
    av_image_copy_plane(rgb->data[0], rgb->linesize[0], pixels + t * frame_bytes, width * 3,
                        width * 3, height);
    sws_scale(scale.get(), rgb->data, rgb->linesize, 0, height, frame->data, frame->linesize);
    frame->pts = t;
    ret = avcodec_send_frame(enc.get(), frame.get());
    DUOGEN_CHECK(ret >= 0, FormatError, "{}: {} encoding failed at frame {}: {}", name,
                 spec.encoder, t, ffmpeg::describe(ret));
    write_packets();
  }
  ffmpeg::clear_logged_error();
  ret = avcodec_send_frame(enc.get(), nullptr);  // flush the encoder's delayed frames
  DUOGEN_CHECK(ret >= 0, FormatError, "{}: {} encoding failed: {}", name, spec.encoder,
               ffmpeg::describe(ret));
  write_packets();
  // The trailer writes the MP4 index and, with +faststart, moves it to the front.
  ret = av_write_trailer(out.get());
  DUOGEN_CHECK(ret >= 0, IoError, "{}: finishing the file failed: {}", name, ffmpeg::describe(ret));
  ret = avio_closep(&out->pb);
  DUOGEN_CHECK(ret >= 0, IoError, "{}: closing the file failed: {}", name, ffmpeg::describe(ret));
  out.reset();
  file.commit();
}

}  // namespace duogen::io
