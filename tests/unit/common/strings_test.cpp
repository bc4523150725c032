#include "common/strings.h"

#include <gtest/gtest.h>

namespace tp::common {
namespace {

TEST(Concat, FormatsEveryArgument) {
  EXPECT_EQ(concat("port ", 80, " on ", std::string_view("h")), "port 80 on h");
}

TEST(Trim, RemovesSurroundingWhitespace) {
  EXPECT_EQ(trim("  a b \t\n"), "a b");
  EXPECT_EQ(trim("   "), "");
}

TEST(SplitTrimmed, DropsEmptyParts) {
  const auto parts = splitTrimmed(" a, b ,,c ,", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "a");
  EXPECT_EQ(parts[1], "b");
  EXPECT_EQ(parts[2], "c");
  EXPECT_TRUE(splitTrimmed("", ',').empty());
}

}  // namespace
}  // namespace tp::common
