#include "common/backoff.h"

#include <gtest/gtest.h>

namespace tp::common {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesFromTheMinimumUpToTheMaximumWithJitter) {
  Backoff backoff(100ms, 1s, 1);
  for (int attempt = 1; attempt <= 40; ++attempt) {
    const auto ceiling = attempt > 4 ? 1000ms : 100ms * (1 << (attempt - 1));
    const auto delay = backoff.next(attempt);
    EXPECT_GE(delay, ceiling / 2) << attempt;
    EXPECT_LE(delay, ceiling) << attempt;
  }
}

TEST(Backoff, ARequestedDelayReplacesItUpToTheMaximum) {
  Backoff backoff(100ms, 1s, 1);
  EXPECT_EQ(backoff.next(1, 7s), 1s);
  EXPECT_EQ(backoff.next(5, 200ms), 200ms);
  EXPECT_EQ(backoff.next(3, 0ms), 0ms);
}

TEST(Backoff, SendersWithOtherSeedsDoNotRetryInLockstep) {
  Backoff first(1s, 1s, 1);
  Backoff second(1s, 1s, 2);
  int same = 0;
  for (int attempt = 1; attempt <= 20; ++attempt) {
    same += first.next(attempt) == second.next(attempt) ? 1 : 0;
  }
  EXPECT_LT(same, 5);
}

}  // namespace
}  // namespace tp::common
