// The lanes' share of the endpoint's disk cap, and the saved lane mapping. (Which lane a series
// takes is the enricher's: tests/unit/enrich/series_enricher_test.cpp.)

#include "forward/lanes.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "support/temp_dir.h"

namespace tp::forward {
namespace {

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
