#pragma once
// A Clock that moves only when a test advances it. Waiters re-check their condition and this
// clock's time every millisecond of real time, so advance() needs no registry of waiters and a
// notify can never be missed.

#include <atomic>
#include <chrono>
#include <functional>

#include "common/clock.h"
#include "support/wait.h"

namespace tp::testing {

class SimulatedClock final : public common::Clock {
 public:
  explicit SimulatedClock(std::chrono::system_clock::time_point wall_start =
                              std::chrono::system_clock::time_point(std::chrono::hours(480'000)))
      : wall_start_(wall_start) {}

  TimePoint now() const override { return TimePoint(Duration(elapsed_.load())); }
  std::chrono::system_clock::time_point wallNow() const override {
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                             Duration(elapsed_.load()));
  }
  bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& wakeup,
                 TimePoint deadline, const std::function<bool()>& done) const override {
    while (!done()) {
      if (now() >= deadline) return false;
      wakeup.wait_for(lock, std::chrono::milliseconds(1));
    }
    return true;
  }

  void advance(Duration by) { elapsed_ += by.count(); }

 private:
  std::chrono::system_clock::time_point wall_start_;
  std::atomic<Duration::rep> elapsed_{0};
};

// Moves `clock` on by `step` until `condition` holds, polled as waitFor() does: the intervals and
// retry waits of the code under test pass at once. False when it does not hold within waitFor's
// limit.
inline bool advanceUntil(SimulatedClock& clock, common::Clock::Duration step,
                         const std::function<bool()>& condition) {
  return waitFor([&] {
    if (condition()) return true;
    clock.advance(step);
    return false;
  });
}

}  // namespace tp::testing
