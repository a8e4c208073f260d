// Locations the tests need, fixed at configure time.
#pragma once

#include <filesystem>

namespace duogen::testing {

// tests/data in the source tree (goldens, tiny checkpoints).
std::filesystem::path data_dir();
// The built `duogen` executable, for CLI tests.
std::filesystem::path duogen_binary();
std::filesystem::path source_dir();
// A fresh empty directory under the system temp dir, unique per call.
std::filesystem::path make_temp_dir(const char* tag);

}  // namespace duogen::testing
