#include "core/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace duogen {
namespace {

// The test vectors of RFC 4648 §10.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain));
  }
}

TEST(Base64, RoundTripsAllByteValues) {
  std::mt19937 rng(7);
  for (std::size_t n = 0; n < 40; ++n) {
    std::string bytes(n * 7, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng() & 0xFF);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), std::optional<std::string>(bytes));
  }
}

TEST(Base64, RejectsMalformedText) {
  for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm 9v"}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace duogen
