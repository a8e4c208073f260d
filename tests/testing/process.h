// Runs a program to completion and captures what it printed, for the CLI tests.
#pragma once

#include <string>
#include <vector>

namespace duogen::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when the process died of a signal
  int signal = 0;      // the signal that killed it, 0 if it exited
  std::string out;
  std::string err;
};

// argv[0] is the program path (not searched in PATH). Throws std::runtime_error if it cannot be
// started.
ProcessResult run_process(const std::vector<std::string>& argv);

// Runs the built `duogen` binary (testing::duogen_binary()) with `args`.
ProcessResult run_duogen(std::vector<std::string> args);

// Whether `haystack` contains `needle` (for checking messages).
bool contains(const std::string& haystack, const std::string& needle);

}  // namespace duogen::testing
