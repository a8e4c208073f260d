#include "core/logging.h"

#include "core/check.h"

namespace duogen {

LogLevel parse_log_level(std::string_view name) {
  if (name == "trace") return LogLevel::kTrace;
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  DUOGEN_FAIL(UsageError, "unknown log level '{}' (expected trace, debug, info, warn, error or off)",
              name);
}

void set_log_level(LogLevel level) {
  spdlog::level::level_enum spd = spdlog::level::info;
  switch (level) {
    case LogLevel::kTrace: spd = spdlog::level::trace; break;
    case LogLevel::kDebug: spd = spdlog::level::debug; break;
    case LogLevel::kInfo: spd = spdlog::level::info; break;
    case LogLevel::kWarn: spd = spdlog::level::warn; break;
    case LogLevel::kError: spd = spdlog::level::err; break;
    case LogLevel::kOff: spd = spdlog::level::off; break;
  }
  spdlog::set_level(spd);
}

}  // namespace duogen
