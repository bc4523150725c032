#include "common/scratch_release.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tp::common {
namespace {

// Stands for a buffer type with its own release, such as the remote-write output buffer.
struct CountingBuffer {
  void releaseIfLarger(size_t keep) { kept_at.push_back(keep); }
  std::vector<size_t> kept_at;
};

TEST(ScratchRelease, FreesOnlyTheBuffersThatGrewBeyondTheSizeKept) {
  std::string small(100, 's');
  std::string large(10'000, 'l');
  CountingBuffer own;
  {
    ScratchRelease release(1'000, small, large, own);
    EXPECT_EQ(large.size(), 10'000u) << "nothing is released before the scope ends";
  }
  EXPECT_EQ(small, std::string(100, 's'));
  EXPECT_TRUE(large.empty());
  EXPECT_LE(large.capacity(), 1'000u);
  EXPECT_EQ(own.kept_at, std::vector<size_t>{1'000});
}

TEST(ScratchRelease, AlsoReleasesWhenTheScopeIsLeftEarly) {
  std::string large(10'000, 'l');
  const auto handle = [&large](bool refuse) {
    ScratchRelease release(1'000, large);
    if (refuse) return false;
    large.append("more");
    return true;
  };
  EXPECT_FALSE(handle(true));
  EXPECT_TRUE(large.empty());
}

TEST(ScratchRelease, LaneBuffersShareTheSizeKept) {
  std::vector<CountingBuffer> lanes(4);
  { ScratchRelease release(1'000, lanes); }
  for (const CountingBuffer& lane : lanes) EXPECT_EQ(lane.kept_at, std::vector<size_t>{250});
}

}  // namespace
}  // namespace tp::common
