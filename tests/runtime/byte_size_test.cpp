#include "runtime/byte_size.h"

#include <gtest/gtest.h>

#include "duogen/error.h"

namespace duogen::runtime {
namespace {

TEST(ByteSize, ParsesDecimalAndBinaryUnits) {
  EXPECT_EQ(parse_byte_size("123"), 123u);
  EXPECT_EQ(parse_byte_size("123B"), 123u);
  EXPECT_EQ(parse_byte_size("24GiB"), 24ull << 30);
  EXPECT_EQ(parse_byte_size("24 gib"), 24ull << 30);
  EXPECT_EQ(parse_byte_size("80GB"), 80'000'000'000ull);
  EXPECT_EQ(parse_byte_size("1.5KiB"), 1536u);
  EXPECT_EQ(parse_byte_size("2MiB"), 2ull << 20);
  EXPECT_EQ(parse_byte_size("3kB"), 3000u);
  EXPECT_EQ(parse_byte_size("1TiB"), 1ull << 40);
  EXPECT_EQ(parse_byte_size(" 7 MB "), 7'000'000u);
}

TEST(ByteSize, RejectsBadSizesNamingThem) {
  for (const char* bad :
       {"", "GB", "-1GB", "12XB", "1.2.3GB", "1e3", "GiB24", "99999999999TiB", "twelve", "80G"}) {
    try {
      parse_byte_size(bad);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(ByteSize, FormatsWithBinaryUnits) {
  EXPECT_EQ(format_bytes(17), "17 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(24ull << 30), "24.00 GiB");
  EXPECT_EQ(format_bytes(3ull << 40), "3.00 TiB");
}

}  // namespace
}  // namespace duogen::runtime
