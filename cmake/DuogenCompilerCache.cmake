# ccache makes incremental and cross-worktree rebuilds cheap on 2-core machines.
#
# The settings travel with the launcher rather than a user's ccache.conf, so a fresh CI clone
# gets them too:
#   CCACHE_BASEDIR = the source root: absolute paths inside the clone are hashed relative to the
#     build directory, so another clone or worktree (CI's temporary clone, a helper's worktree)
#     hits the same cache entries;
#   CCACHE_SLOPPINESS: what ccache must tolerate for CMake's precompiled header (the PCH is
#     included with -include and rebuilt with a new mtime; its macros are compiled in), without
#     which every PCH-using object is a miss (ccache docs, "Precompiled headers").
find_program(DUOGEN_CCACHE ccache)
if(DUOGEN_CCACHE)
  set(_duogen_ccache_launcher
      "${CMAKE_COMMAND}" -E env "CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}"
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      "CCACHE_NOHASHDIR=1" "${DUOGEN_CCACHE}")
  set(CMAKE_C_COMPILER_LAUNCHER ${_duogen_ccache_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_duogen_ccache_launcher})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${_duogen_ccache_launcher})
endif()
