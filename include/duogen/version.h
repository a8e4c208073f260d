#pragma once

namespace duogen {

// Version string of the library, e.g. "0.1.0".
const char* version();
// Version of the libtorch the library was built against, e.g. "2.11.0".
const char* torch_version();
// Whether the CUDA kernels were compiled in (they still need a GPU at run time).
bool built_with_cuda();

}  // namespace duogen
