// The row journal's record form: what goes in comes back out, and damaged records are refused
// whole without touching what was already decoded.

#include "training/item_codec.h"

#include <gtest/gtest.h>

namespace tp::training {
namespace {

TrainingItems sampleItems() {
  TrainingItems items;
  items.starts.push_back({"w-job", "w-run", "pod-0", 1761223152000001});
  items.performances.push_back(
      {"w-job", "w-run", "pod-0", R"({"current_iteration":7,"lm_loss":"NaN"})", 7, -5});
  items.performances.push_back({"", "", "", "", 0, 0});  // empty strings survive too
  return items;
}

TEST(ItemCodec, RoundTripsEveryField) {
  std::string encoded;
  encodeItems(sampleItems(), encoded);
  TrainingItems decoded;
  ASSERT_TRUE(decodeItems(encoded, decoded));
  ASSERT_EQ(decoded.starts.size(), 1u);
  EXPECT_EQ(decoded.starts[0].workload_uid, "w-job");
  EXPECT_EQ(decoded.starts[0].nearest_workload_uid, "w-run");
  EXPECT_EQ(decoded.starts[0].pod_uid, "pod-0");
  EXPECT_EQ(decoded.starts[0].time_us, 1761223152000001);
  ASSERT_EQ(decoded.performances.size(), 2u);
  EXPECT_EQ(decoded.performances[0].performance_json, R"({"current_iteration":7,"lm_loss":"NaN"})");
  EXPECT_EQ(decoded.performances[0].iteration, 7);
  EXPECT_EQ(decoded.performances[0].time_us, -5);
  EXPECT_EQ(decoded.performances[1].workload_uid, "");
}

TEST(ItemCodec, DecodingAppendsToWhatIsThere) {
  std::string encoded;
  encodeItems(sampleItems(), encoded);
  TrainingItems decoded = sampleItems();
  ASSERT_TRUE(decodeItems(encoded, decoded));
  EXPECT_EQ(decoded.size(), 6u);
}

TEST(ItemCodec, DamagedRecordsAreRefusedWholeAndChangeNothing) {
  std::string encoded;
  encodeItems(sampleItems(), encoded);
  std::string huge_count = encoded;
  huge_count[1] = '\xff';  // claims billions of markers
  std::string long_string = encoded;
  long_string[5] = '\x7f';  // the first string's length runs past the end
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"unknown version", "\x02" + encoded.substr(1)},
      {"truncated by one byte", encoded.substr(0, encoded.size() - 1)},
      {"truncated in the header", encoded.substr(0, 3)},
      {"trailing byte", encoded + "x"},
      {"count beyond the record", huge_count},
      {"string beyond the record", long_string},
      {"garbage", "not a journal record at all"},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    TrainingItems decoded = sampleItems();
    EXPECT_FALSE(decodeItems(bytes, decoded));
    EXPECT_EQ(decoded.size(), 3u);
  }
  // Every prefix of a valid record is refused.
  for (size_t size = 0; size < encoded.size(); ++size) {
    TrainingItems decoded;
    EXPECT_FALSE(decodeItems(std::string_view(encoded).substr(0, size), decoded)) << size;
  }
}

}  // namespace
}  // namespace tp::training
