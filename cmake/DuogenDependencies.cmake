# Third-party libraries, all from Debian packages (see tools/setup.sh for the package names).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
# FFmpeg's libraries for video files (src/io/video_*.cpp); 5.0 (libavcodec 59) or newer.
pkg_check_modules(FFMPEG IMPORTED_TARGET
  libavformat>=59 libavcodec>=59 libswscale>=6 libavutil>=57)
if(NOT FFMPEG_FOUND)
  message(FATAL_ERROR
    "FFmpeg development libraries (libavformat, libavcodec, libswscale, libavutil >= FFmpeg 5.0) "
    "not found through pkg-config. On Debian/Ubuntu: "
    "apt-get install libavformat-dev libavcodec-dev libswscale-dev libavutil-dev "
    "(or run tools/setup.sh). libavcodec must include the libx264 encoder, as Debian's does.")
endif()

find_path(DUOGEN_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
add_library(duogen_stb INTERFACE)
target_include_directories(duogen_stb SYSTEM INTERFACE "${DUOGEN_STB_INCLUDE_DIR}")

if(DUOGEN_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
