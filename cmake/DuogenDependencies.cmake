# Third-party libraries, all from Debian packages (see tools/setup.sh for the package names).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

find_path(DUOGEN_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
add_library(duogen_stb INTERFACE)
target_include_directories(duogen_stb SYSTEM INTERFACE "${DUOGEN_STB_INCLUDE_DIR}")

if(DUOGEN_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
