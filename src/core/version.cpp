#include "duogen/version.h"

namespace duogen {

const char* version() { return DUOGEN_VERSION_STRING; }
const char* torch_version() { return DUOGEN_TORCH_VERSION_STRING; }
bool built_with_cuda() {
#ifdef DUOGEN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace duogen
