#include "common/units.h"

#include <gtest/gtest.h>

namespace tp::common {
namespace {

using std::chrono::milliseconds;

TEST(ParseByteSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(*parseByteSize("512"), 512u);
  EXPECT_EQ(*parseByteSize("512B"), 512u);
  EXPECT_EQ(*parseByteSize("32MiB"), 32u << 20);
  EXPECT_EQ(*parseByteSize("1GiB"), 1u << 30);
  EXPECT_EQ(*parseByteSize("1.5KiB"), 1536u);
  EXPECT_EQ(*parseByteSize(" 64 KiB "), 64u << 10);
  EXPECT_EQ(*parseByteSize("2MB"), 2'000'000u);
}

TEST(ParseByteSize, RejectsGarbageWithReason) {
  EXPECT_NE(parseByteSize("").status().message().find("does not start with a number"),
            std::string::npos);
  EXPECT_NE(parseByteSize("-1MiB").status().message().find("does not start with a number"),
            std::string::npos);
  EXPECT_NE(parseByteSize("10XB").status().message().find("unknown size unit 'XB'"),
            std::string::npos);
  EXPECT_FALSE(parseByteSize("1.2.3MiB").ok());
  EXPECT_NE(parseByteSize("99999999999GiB").status().message().find("too large"),
            std::string::npos);
}

TEST(FormatByteSize, UsesLargestExactUnit) {
  EXPECT_EQ(formatByteSize(32u << 20), "32MiB");
  EXPECT_EQ(formatByteSize(1u << 30), "1GiB");
  EXPECT_EQ(formatByteSize(1536), "1536B");  // 1.5KiB is not a whole number of KiB
  EXPECT_EQ(formatByteSize(2048), "2KiB");
  EXPECT_EQ(formatByteSize(0), "0B");
}

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(*parseDuration("20s"), milliseconds(20'000));
  EXPECT_EQ(*parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(*parseDuration("1.5s"), milliseconds(1'500));
  EXPECT_EQ(*parseDuration("1h"), milliseconds(3'600'000));
}

TEST(ParseDuration, RejectsBareNumbersAndUnknownUnits) {
  EXPECT_NE(parseDuration("20").status().message().find("needs a unit"), std::string::npos);
  EXPECT_NE(parseDuration("5d").status().message().find("unknown duration unit 'd'"),
            std::string::npos);
  EXPECT_FALSE(parseDuration("s").ok());
}

TEST(FormatDuration, RoundTrips) {
  for (const char* text : {"20s", "250ms", "2m", "0s"}) {
    EXPECT_EQ(formatDuration(*parseDuration(text)), text);
  }
}

}  // namespace
}  // namespace tp::common
