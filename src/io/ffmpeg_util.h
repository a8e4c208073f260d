// Internal to the video code (video_decode.cpp, video_encode.cpp): FFmpeg's headers, owning
// pointers for its objects, and its error messages. Never include this from a public header.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace duogen::io::ffmpeg {

struct InputDeleter {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct OutputDeleter {  // closes the output file too, if it was opened
  void operator()(AVFormatContext* c) const {
    if (c->pb != nullptr && !(c->oformat->flags & AVFMT_NOFILE)) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
struct CodecDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct ScaleDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct DictionaryDeleter {
  void operator()(AVDictionary* d) const { av_dict_free(&d); }
};
using InputPtr = std::unique_ptr<AVFormatContext, InputDeleter>;
using OutputPtr = std::unique_ptr<AVFormatContext, OutputDeleter>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using ScalePtr = std::unique_ptr<SwsContext, ScaleDeleter>;

FramePtr alloc_frame();
PacketPtr alloc_packet();

// Routes FFmpeg's log (normally printed to stderr) into spdlog at debug/trace level, and keeps
// the last error-level line of the calling thread so that exceptions can quote it ("moov atom
// not found" says more than AVERROR_INVALIDDATA's text). Installed once per process on first
// use; FFmpeg's log callback is process-wide. The codecs run single-threaded (thread_count 1),
// so their messages come from the calling thread.
void route_log();
// Forgets the calling thread's last logged error (call before each FFmpeg operation).
void clear_logged_error();

// The last error-level line FFmpeg logged on this thread since clear_logged_error() ("" if none).
const std::string& logged_error();

// av_strerror's text for `code`, followed by the last error FFmpeg logged on this thread since
// clear_logged_error(), if any: "Invalid data found when processing input (moov atom not found)".
std::string describe(int code);

// "file:" + the path, so that a name with a colon is not taken for a protocol.
std::string file_url(const std::string& path);

}  // namespace duogen::io::ffmpeg
