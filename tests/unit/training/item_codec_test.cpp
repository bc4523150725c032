// The row journal's record form: what goes in comes back out, and damaged records are refused
// whole without touching what was already decoded.

#include "training/item_codec.h"

#include <gtest/gtest.h>

namespace tp::training {
namespace {

const SeriesLabels kLabels{"job", "job-master-0", "training", "node-1", "63"};

TrainingItems sampleItems() {
  TrainingItems items;
  items.starts.push_back({"w-job", "w-run", "pod-0", 1761223152000001});
  items.performances.push_back(
      {"w-job", "w-run", "pod-0", R"({"current_iteration":7,"lm_loss":"NaN"})", 7, -5, kLabels});
  items.performances.push_back({"", "", "", "", 0, 0, {}});  // empty strings survive too
  items.lifecycles.push_back({"w-job", "w-run", "pod-0", LifecycleKind::kCheckpointSaveEnd, 1000,
                              "/ckpt/iter_0001000", 5234, 1761223152000002, kLabels});
  items.lifecycles.push_back({"w-job",
                              "w-run",
                              "pod-0",
                              LifecycleKind::kEnd,
                              std::nullopt,
                              "",
                              std::nullopt,
                              1761223152000003,
                              {}});
  return items;
}

// A record as the release before training series wrote it: version 1, no labels, no lifecycle.
std::string versionOneRecord() {
  std::string bytes(1, '\x01');
  const auto put32 = [&bytes](uint32_t value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  const auto put64 = [&bytes](int64_t value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  const auto putString = [&](std::string_view text) {
    put32(static_cast<uint32_t>(text.size()));
    bytes.append(text);
  };
  put32(0);  // no StartTrain markers
  put32(1);
  putString("w-job");
  putString("w-run");
  putString("pod-0");
  putString(R"({"current_iteration":3})");
  put64(3);
  put64(1761223152000000);
  return bytes;
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
  EXPECT_EQ(decoded.performances[0].labels, kLabels);
  EXPECT_EQ(decoded.performances, sampleItems().performances);
  EXPECT_EQ(decoded.lifecycles, sampleItems().lifecycles);
}

TEST(ItemCodec, RecordsOfTheReleaseBeforeLabelsAreStillRead) {
  TrainingItems decoded;
  ASSERT_TRUE(decodeItems(versionOneRecord(), decoded));
  ASSERT_EQ(decoded.performances.size(), 1u);
  EXPECT_EQ(decoded.performances[0].iteration, 3);
  EXPECT_EQ(decoded.performances[0].time_us, 1761223152000000);
  EXPECT_EQ(decoded.performances[0].labels, SeriesLabels{});
  EXPECT_TRUE(decoded.lifecycles.empty());
}

TEST(ItemCodec, DecodingAppendsToWhatIsThere) {
  std::string encoded;
  encodeItems(sampleItems(), encoded);
  TrainingItems decoded = sampleItems();
  ASSERT_TRUE(decodeItems(encoded, decoded));
  EXPECT_EQ(decoded.size(), 10u);
}

TEST(ItemCodec, AnUnknownLifecycleKindIsRefused) {
  TrainingItems items;
  items.lifecycles.push_back(sampleItems().lifecycles[0]);
  std::string encoded;
  encodeItems(items, encoded);
  // Version, three counts, then three strings of 5 bytes each with their lengths.
  constexpr size_t kKindOffset = 1 + 3 * 4 + 3 * (4 + 5);
  ASSERT_EQ(encoded[kKindOffset], static_cast<char>(LifecycleKind::kCheckpointSaveEnd));
  for (const char kind : {'\0', '\x06', '\xff'}) {
    std::string damaged = encoded;
    damaged[kKindOffset] = kind;
    TrainingItems decoded;
    EXPECT_FALSE(decodeItems(damaged, decoded)) << static_cast<int>(kind);
  }
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
      {"unknown version", "\x03" + encoded.substr(1)},
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
    EXPECT_EQ(decoded.size(), 5u);
  }
  // Every prefix of a valid record is refused.
  for (size_t size = 0; size < encoded.size(); ++size) {
    TrainingItems decoded;
    EXPECT_FALSE(decodeItems(std::string_view(encoded).substr(0, size), decoded)) << size;
  }
}

}  // namespace
}  // namespace tp::training
