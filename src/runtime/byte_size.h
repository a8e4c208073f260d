// Byte counts as people write them ("24GiB", "80GB", "512 MiB", "1000000") and as reports show
// them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace duogen::runtime {

// Decimal (kB, MB, GB, TB = 10^3k) and binary (KiB, MiB, GiB, TiB = 2^10k) units, case-insensitive
// unit names, an optional "B" alone, optional space; the number may have a fraction ("1.5GiB").
// A bare "G" is rejected: tools disagree on whether it means GB or GiB.
// Throws InvalidArgument naming `text` for anything else (empty, negative, unknown unit, overflow,
// a fraction of a byte left over is rounded down).
std::uint64_t parse_byte_size(std::string_view text);

// "23.84 GiB", "512.00 MiB", "17 B": binary units, two decimals.
std::string format_bytes(std::uint64_t bytes);

}  // namespace duogen::runtime
