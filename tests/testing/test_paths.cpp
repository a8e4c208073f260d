#include "testing/test_paths.h"

#include <stdlib.h>

#include <string>

namespace duogen::testing {

std::filesystem::path data_dir() { return DUOGEN_TEST_DATA_DIR; }
std::filesystem::path duogen_binary() { return DUOGEN_BINARY; }
std::filesystem::path source_dir() { return DUOGEN_SOURCE_DIR; }

std::filesystem::path make_temp_dir(const char* tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string("duogen-") + tag + "-XXXXXX")).string();
  char* made = ::mkdtemp(tmpl.data());
  return made ? std::filesystem::path(made) : std::filesystem::path();
}

}  // namespace duogen::testing
