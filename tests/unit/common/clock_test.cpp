#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/simulated_clock.h"
#include "support/wait.h"

namespace tp {
namespace {

using std::chrono::seconds;

TEST(SimulatedClock, MovesOnlyWhenAdvanced) {
  testing::SimulatedClock clock;
  const auto start = clock.now();
  const auto wall_start = clock.wallNow();
  clock.advance(seconds(90));
  EXPECT_EQ(clock.now() - start, seconds(90));
  EXPECT_EQ(clock.wallNow() - wall_start, seconds(90));
}

TEST(SimulatedClock, AWaitEndsWhenTheClockPassesItsDeadline) {
  testing::SimulatedClock clock;
  std::mutex mutex;
  std::condition_variable wakeup;
  std::atomic<int> result{-1};
  const auto deadline = clock.now() + seconds(30);
  std::thread waiter([&] {
    std::unique_lock lock(mutex);
    result = clock.waitUntil(lock, wakeup, deadline, [] { return false; }) ? 1 : 0;
  });
  clock.advance(seconds(29));
  EXPECT_EQ(result.load(), -1);  // not reached yet: the clock has not passed the deadline
  clock.advance(seconds(1));
  EXPECT_TRUE(testing::waitFor([&] { return result.load() != -1; }));
  waiter.join();
  EXPECT_EQ(result.load(), 0);
}

TEST(SimulatedClock, AWaitEndsWhenItsConditionHolds) {
  testing::SimulatedClock clock;
  std::mutex mutex;
  std::condition_variable wakeup;
  bool done = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    std::unique_lock lock(mutex);
    result = clock.waitFor(lock, wakeup, std::chrono::hours(1), [&] { return done; }) ? 1 : 0;
  });
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  wakeup.notify_all();
  EXPECT_TRUE(testing::waitFor([&] { return result.load() != -1; }));
  waiter.join();
  EXPECT_EQ(result.load(), 1);
}

TEST(SystemClock, AWaitWithoutDeadlineEndsOnItsCondition) {
  std::mutex mutex;
  std::condition_variable wakeup;
  bool done = false;
  std::thread notifier([&] {
    std::lock_guard lock(mutex);
    done = true;
    wakeup.notify_all();
  });
  std::unique_lock lock(mutex);
  EXPECT_TRUE(common::systemClock().waitUntil(lock, wakeup, common::Clock::TimePoint::max(),
                                              [&] { return done; }));
  lock.unlock();
  notifier.join();
}

}  // namespace
}  // namespace tp
