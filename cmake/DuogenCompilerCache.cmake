# ccache makes incremental and cross-worktree rebuilds cheap on 2-core machines.
find_program(DUOGEN_CCACHE ccache)
if(DUOGEN_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER "${DUOGEN_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${DUOGEN_CCACHE}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${DUOGEN_CCACHE}")
endif()
