// Per-stage wall-clock timings of a job (result.json's "timings_s").
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace duogen::pipeline {

using Clock = std::chrono::steady_clock;
using StageTimings = std::vector<std::pair<std::string, double>>;  // stage -> seconds, in order

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Adds `seconds` to `stage`, appending the stage the first time it is seen.
inline void add_timing(StageTimings& timings, const std::string& stage, double seconds) {
  for (auto& [name, total] : timings) {
    if (name == stage) {
      total += seconds;
      return;
    }
  }
  timings.emplace_back(stage, seconds);
}

}  // namespace duogen::pipeline
