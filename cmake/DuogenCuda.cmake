# DUOGEN_CUDA=AUTO|ON|OFF -> DUOGEN_WITH_CUDA. The kernels compile for sm_80 and sm_90a (the
# Hopper-only instructions need the "a" target); the binary still runs without a GPU because
# every op falls back to its ATen reference for CPU tensors.
set(DUOGEN_WITH_CUDA OFF)
if(NOT DUOGEN_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(DUOGEN_WITH_CUDA ON)
  elseif(DUOGEN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DUOGEN_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

if(DUOGEN_WITH_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80-real 90a-real)
  endif()
  set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no CUDA20 flags for nvcc
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  if(NOT TARGET duogen::torch_cuda)
    message(FATAL_ERROR "CUDA kernels need the CUDA libraries of torch (libtorch_cuda.so) in ${DUOGEN_TORCH_ROOT}/lib; configure with -DDUOGEN_CUDA=OFF for a CPU-only torch")
  endif()
endif()
