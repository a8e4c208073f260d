// Logging goes through spdlog's default logger, which the CLI configures (level, format).
// Library code logs; it never configures sinks or reads the environment.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace duogen {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace|debug|info|warn|error|off" (throws UsageError otherwise).
LogLevel parse_log_level(std::string_view name);
void set_log_level(LogLevel level);

}  // namespace duogen
