// Splitting a request's encoded series into lanes: every series goes whole to one lane, the same
// series always to the same lane, metadata to lane 0, sample counts add up, malformed input is
// refused. The lanes' share of the endpoint's disk cap, and the saved lane mapping.

#include "forward/lanes.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <set>

#include "support/temp_dir.h"

#include "remote_v1.pb.h"

namespace tp::forward {
namespace {

prompb::WriteRequest request(int series, int samples_each, int64_t timestamp) {
  prompb::WriteRequest out;
  for (int k = 0; k < series; ++k) {
    auto* entry = out.add_timeseries();
    for (const auto& [name, value] :
         {std::pair<std::string, std::string>{"__name__", "up"}, {"k", std::to_string(k)}}) {
      auto* label = entry->add_labels();
      label->set_name(name);
      label->set_value(value);
    }
    for (int i = 0; i < samples_each; ++i) {
      auto* sample = entry->add_samples();
      sample->set_value(i);
      sample->set_timestamp(timestamp + i);
    }
  }
  return out;
}

// The lane each series k went to.
std::map<std::string, size_t> laneOfEachSeries(const LaneParts& parts) {
  std::map<std::string, size_t> lanes;
  for (size_t lane = 0; lane < parts.fields.size(); ++lane) {
    prompb::WriteRequest part;
    EXPECT_TRUE(part.ParseFromString(parts.fields[lane]));
    for (const auto& series : part.timeseries()) {
      EXPECT_TRUE(lanes.emplace(series.labels(1).value(), lane).second) << "series split";
    }
  }
  return lanes;
}

TEST(Lanes, EverySeriesGoesWholeToOneLaneAndSampleCountsAddUp) {
  const std::string fields = request(64, 3, 1000).SerializeAsString();
  LaneParts parts;
  ASSERT_TRUE(splitIntoLanes(fields, 4, parts).ok());
  ASSERT_EQ(parts.fields.size(), 4u);
  size_t bytes = 0;
  size_t samples = 0;
  std::set<size_t> used;
  for (size_t lane = 0; lane < 4; ++lane) {
    bytes += parts.fields[lane].size();
    samples += parts.samples[lane];
    if (!parts.fields[lane].empty()) used.insert(lane);
  }
  EXPECT_EQ(bytes, fields.size());
  EXPECT_EQ(samples, 64u * 3);
  EXPECT_EQ(laneOfEachSeries(parts).size(), 64u);
  EXPECT_EQ(used.size(), 4u) << "64 series should reach every lane";
}

TEST(Lanes, ASeriesKeepsItsLaneWhateverTheSamplesAndTheOtherSeries) {
  LaneParts first;
  ASSERT_TRUE(splitIntoLanes(request(32, 1, 1000).SerializeAsString(), 3, first).ok());
  LaneParts later;  // other timestamps and sample counts, fewer series, reused buffers
  ASSERT_TRUE(splitIntoLanes(request(20, 5, 9000).SerializeAsString(), 3, later).ok());
  const auto before = laneOfEachSeries(first);
  for (const auto& [series, lane] : laneOfEachSeries(later)) {
    EXPECT_EQ(before.at(series), lane) << "series k=" << series;
  }
  ASSERT_TRUE(splitIntoLanes(request(32, 1, 1000).SerializeAsString(), 3, later).ok());
  EXPECT_EQ(laneOfEachSeries(later), before);
}

TEST(Lanes, MetadataGoesToTheFirstLane) {
  prompb::WriteRequest with_metadata = request(8, 1, 0);
  auto* metadata = with_metadata.add_metadata();
  metadata->set_metric_family_name("up");
  metadata->set_help("whether the target is up");
  LaneParts parts;
  ASSERT_TRUE(splitIntoLanes(with_metadata.SerializeAsString(), 4, parts).ok());
  prompb::WriteRequest first;
  ASSERT_TRUE(first.ParseFromString(parts.fields[0]));
  ASSERT_EQ(first.metadata_size(), 1);
  EXPECT_EQ(first.metadata(0).help(), "whether the target is up");
}

TEST(Lanes, MalformedFieldsAreRefused) {
  const std::string fields = request(4, 1, 0).SerializeAsString();
  LaneParts parts;
  EXPECT_EQ(splitIntoLanes(fields.substr(0, fields.size() - 3), 2, parts).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(splitIntoLanes(std::string("\x08\x01", 2), 2, parts).code(),
            absl::StatusCode::kInvalidArgument);  // a varint field where series belong
  std::string bad_series = "\x0a\x02\x0a\x05";    // a series whose label runs past its end
  EXPECT_EQ(splitIntoLanes(bad_series, 2, parts).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LaneCaps, EmptyLanesShareTheCapEqually) {
  EXPECT_EQ(laneCaps({0, 0, 0, 0}, 4, 1000, false), (std::vector<uint64_t>{250, 250, 250, 250}));
  EXPECT_EQ(laneCaps({0, 0, 0, 0}, 4, 1000, true), (std::vector<uint64_t>{250, 250, 250, 250}));
  EXPECT_EQ(laneCaps({0}, 1, 1000, false), (std::vector<uint64_t>{1000}));
}

// A backlog queued for one lane, now one of four: it keeps what it holds plus an equal part of
// the room left; a lane that only drains takes no room.
TEST(LaneCaps, ABacklogKeepsItsRoomAndTheLanesShareWhatIsLeft) {
  EXPECT_EQ(laneCaps({600, 0, 0, 0}, 4, 1000, false), (std::vector<uint64_t>{700, 100, 100, 100}));
  EXPECT_EQ(laneCaps({100, 300, 200}, 1, 1000, false), (std::vector<uint64_t>{500, 300, 200}));
}

TEST(LaneCaps, NoCapIsBelowWhatItsLaneHoldsWhileTheEndpointHasRoom) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 10'000; ++round) {
    const size_t lanes = 1 + random() % 6;
    const size_t appending = 1 + random() % lanes;
    const uint64_t total = 1 + random() % (1ull << 40);
    const bool drop_oldest = random() % 2 == 0;
    // drop_oldest gives a lane holding little a few batches of room even when the endpoint is
    // nearly full: held up to 7/8 of the cap then.
    const uint64_t fill = drop_oldest ? total / 8 * 7 : total;
    std::vector<uint64_t> held(lanes);
    uint64_t left = 1 + random() % (fill + 1);
    for (uint64_t& lane : held) {
      lane = random() % left;
      left -= lane;
    }
    const std::vector<uint64_t> caps = laneCaps(held, appending, total, drop_oldest);
    ASSERT_EQ(caps.size(), lanes);
    uint64_t sum = 0;
    for (size_t i = 0; i < lanes; ++i) {
      EXPECT_GE(caps[i], held[i]) << round << " lane " << i;
      sum += i < appending ? caps[i] : held[i];
    }
    EXPECT_LE(sum, total) << round;
    EXPECT_GE(sum + appending,
              std::min<uint64_t>(total, std::accumulate(held.begin(), held.end(), uint64_t{0})))
        << round;
  }
}

TEST(LaneCaps, OverTheCapLanesShrinkInProportionToWhatTheyHold) {
  EXPECT_EQ(laneCaps({800, 400}, 2, 1000, false), (std::vector<uint64_t>{666, 333}));
}

// The endpoint full of a backlog one lane holds: with drop_oldest the other lanes still get an
// eighth of their fair part, which that lane gives up by dropping its oldest batches.
TEST(LaneCaps, DropOldestLetsALaneHoldingLittleTakeBatchesWhenTheEndpointIsFull) {
  EXPECT_EQ(laneCaps({1000, 0, 0, 0}, 4, 1000, true), (std::vector<uint64_t>{907, 31, 31, 31}));
  EXPECT_EQ(laneCaps({1000, 0, 0, 0}, 4, 1000, false), (std::vector<uint64_t>{1000, 0, 0, 0}));
}

TEST(LaneMapping, RoundTripsThroughItsFile) {
  testing::TempDir dir("tp-lanes-");
  const LaneMapping mapping{.lanes = 4, .epoch_ends = {{57, 0, 3}, {60, 2, 4, 9}}};
  EXPECT_EQ(parseLaneMapping(formatLaneMapping(mapping)), mapping);
  ASSERT_TRUE(writeLaneMapping(dir / "x.lanes", mapping).ok());
  EXPECT_EQ(readLaneMapping(dir / "x.lanes"), mapping);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.lanes.tmp"));
  EXPECT_EQ(readLaneMapping(dir / "missing.lanes"), std::nullopt);
  EXPECT_EQ(parseLaneMapping("lanes 2\n"), (LaneMapping{.lanes = 2, .epoch_ends = {}}));
  for (const char* bad : {"", "lanes 0\n", "lanes 2 3\n", "lanes 2\nepoch 1 x\n", "epoch 1\n",
                          "lanes 2\nlanes 3\n", "lanes 2\nsomething\n"}) {
    EXPECT_EQ(parseLaneMapping(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace tp::forward
