#include "runtime/byte_size.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

#include "core/check.h"

namespace duogen::runtime {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::uint64_t parse_byte_size(std::string_view text) {
  const std::string_view s = trim(text);
  std::size_t split = 0;
  while (split < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[split])) || s[split] == '.')) {
    ++split;
  }
  const std::string_view number = s.substr(0, split);
  const std::string unit = lower(trim(s.substr(split)));
  DUOGEN_CHECK(!number.empty(), InvalidArgument,
               "'{}' is not a byte size (expected a number with an optional unit: 24GiB, 80GB, "
               "1048576)",
               text);
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  DUOGEN_CHECK(ec == std::errc() && end == number.data() + number.size() && std::isfinite(value),
               InvalidArgument, "'{}' is not a byte size: bad number '{}'", text, number);

  static constexpr std::array<std::pair<std::string_view, double>, 10> kUnits = {{
      {"", 1.0},
      {"b", 1.0},
      {"kb", 1e3},
      {"mb", 1e6},
      {"gb", 1e9},
      {"tb", 1e12},
      {"kib", 0x1p10},
      {"mib", 0x1p20},
      {"gib", 0x1p30},
      {"tib", 0x1p40},
  }};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bytes = std::floor(value * scale);
    // 2^64 is exactly representable; anything at or past it does not fit.
    DUOGEN_CHECK(bytes < 0x1p64, InvalidArgument, "'{}' is too large a byte size", text);
    return static_cast<std::uint64_t>(bytes);
  }
  DUOGEN_FAIL(InvalidArgument,
              "'{}' has an unknown unit '{}' (use B, kB, MB, GB, TB or KiB, MiB, GiB, TiB)", text,
              unit);
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes >= (1ull << 40)) return fmt::format("{:.2f} TiB", static_cast<double>(bytes) / 0x1p40);
  if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / 0x1p30);
  if (bytes >= (1ull << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / 0x1p20);
  if (bytes >= (1ull << 10)) return fmt::format("{:.2f} KiB", static_cast<double>(bytes) / 0x1p10);
  return fmt::format("{} B", bytes);
}

}  // namespace duogen::runtime
