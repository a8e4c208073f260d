# libtorch from the PyPI torch wheel in the project venv (tools/setup.sh creates it).
#
# We do not use the wheel's TorchConfig.cmake: for a CUDA wheel it insists on finding cuDNN,
# NVTX and the CUDA toolkit even for a CPU-only build, which breaks DUOGEN_CUDA=OFF. Instead we
# define imported targets for exactly the libraries we link: c10 + torch_cpu always, and
# c10_cuda + torch_cuda when the CUDA kernels are built.
#
# Targets: duogen::torch (CPU), duogen::torch_cuda (only if the wheel carries it).
if(NOT DUOGEN_TORCH_ROOT)
  set(_duogen_python "${CMAKE_SOURCE_DIR}/.venv/bin/python")
  if(NOT EXISTS "${_duogen_python}")
    find_package(Python3 COMPONENTS Interpreter REQUIRED)
    set(_duogen_python "${Python3_EXECUTABLE}")
  endif()
  # find_spec does not import torch (which would load its CUDA libraries and take seconds).
  execute_process(
    COMMAND "${_duogen_python}" -c
      "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')"
    OUTPUT_VARIABLE _duogen_torch_root OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0 OR NOT _duogen_torch_root)
    message(FATAL_ERROR "torch not found by ${_duogen_python}; run tools/setup.sh or set -DDUOGEN_TORCH_ROOT=<site-packages>/torch")
  endif()
  set(DUOGEN_TORCH_ROOT "${_duogen_torch_root}" CACHE PATH "" FORCE)
endif()

set(_torch_lib "${DUOGEN_TORCH_ROOT}/lib")
foreach(_f include/ATen/ATen.h lib/libtorch_cpu.so lib/libc10.so)
  if(NOT EXISTS "${DUOGEN_TORCH_ROOT}/${_f}")
    message(FATAL_ERROR "${DUOGEN_TORCH_ROOT} is not a torch installation with C++ headers and libraries (missing ${_f})")
  endif()
endforeach()

file(STRINGS "${DUOGEN_TORCH_ROOT}/version.py" _ver REGEX "^__version__")
string(REGEX REPLACE ".*'([^']+)'.*" "\\1" DUOGEN_TORCH_VERSION "${_ver}")
if(DUOGEN_TORCH_VERSION VERSION_LESS 2.0)
  message(FATAL_ERROR "duogen needs libtorch 2.x; found ${DUOGEN_TORCH_VERSION}")
endif()

# The wheel's C++ ABI flag (new ABI since torch 2.7 wheels); read from its own CMake config.
set(_abi 1)
set(_torch_cfg "${DUOGEN_TORCH_ROOT}/share/cmake/Torch/TorchConfig.cmake")
if(EXISTS "${_torch_cfg}")
  file(STRINGS "${_torch_cfg}" _abi_line REGEX "_GLIBCXX_USE_CXX11_ABI=[01]")
  if(_abi_line MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
    set(_abi ${CMAKE_MATCH_1})
  endif()
endif()

add_library(duogen_torch_c10 SHARED IMPORTED)
set_target_properties(duogen_torch_c10 PROPERTIES IMPORTED_LOCATION "${_torch_lib}/libc10.so")
add_library(duogen_torch_cpu SHARED IMPORTED)
set_target_properties(duogen_torch_cpu PROPERTIES IMPORTED_LOCATION "${_torch_lib}/libtorch_cpu.so")

add_library(duogen_torch INTERFACE)
add_library(duogen::torch ALIAS duogen_torch)
# The wheel also ships fmt 12 headers in include/fmt, which would shadow the system fmt that
# Debian's spdlog is built against (an ODR and ABI mismatch). Expose a mirror of torch's include
# directory without fmt/ instead: symlinks to every other entry.
set(_mirror "${CMAKE_BINARY_DIR}/torch_include")
file(REMOVE_RECURSE "${_mirror}")
file(MAKE_DIRECTORY "${_mirror}")
file(GLOB _entries RELATIVE "${DUOGEN_TORCH_ROOT}/include" "${DUOGEN_TORCH_ROOT}/include/*")
foreach(_e IN LISTS _entries)
  if(NOT _e STREQUAL "fmt")
    file(CREATE_LINK "${DUOGEN_TORCH_ROOT}/include/${_e}" "${_mirror}/${_e}" SYMBOLIC)
  endif()
endforeach()
target_include_directories(duogen_torch SYSTEM INTERFACE "${_mirror}")
target_compile_definitions(duogen_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${_abi})
target_link_libraries(duogen_torch INTERFACE duogen_torch_cpu duogen_torch_c10 Threads::Threads)

if(EXISTS "${_torch_lib}/libtorch_cuda.so" AND EXISTS "${_torch_lib}/libc10_cuda.so")
  add_library(duogen_torch_cuda_lib SHARED IMPORTED)
  set_target_properties(duogen_torch_cuda_lib PROPERTIES IMPORTED_LOCATION "${_torch_lib}/libtorch_cuda.so")
  add_library(duogen_c10_cuda_lib SHARED IMPORTED)
  set_target_properties(duogen_c10_cuda_lib PROPERTIES IMPORTED_LOCATION "${_torch_lib}/libc10_cuda.so")
  add_library(duogen_torch_cuda INTERFACE)
  add_library(duogen::torch_cuda ALIAS duogen_torch_cuda)
  # --no-as-needed: nothing references libtorch_cuda's symbols directly, but it must be loaded
  # for ATen's CUDA backend to register itself (TorchConfig.cmake does the same).
  target_link_libraries(duogen_torch_cuda INTERFACE duogen_torch
    "-Wl,--no-as-needed" duogen_torch_cuda_lib "-Wl,--as-needed" duogen_c10_cuda_lib)
endif()

# Executables find libtorch through RPATH, so no LD_LIBRARY_PATH is needed.
set(CMAKE_BUILD_RPATH "${_torch_lib}")
set(CMAKE_INSTALL_RPATH "${_torch_lib}")
