#pragma once
// The time every component reads and waits on, injected so that tests move it instead of
// sleeping. Production code takes a `const Clock&` (systemClock() by default); tests pass a
// SimulatedClock (tests/support/simulated_clock.h) and advance it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace tp::common {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;

  // Monotonic time, for intervals, deadlines and retry waits.
  virtual TimePoint now() const = 0;
  // Wall-clock time, for timestamps that leave the process (rows, samples, snapshots).
  virtual std::chrono::system_clock::time_point wallNow() const = 0;

  // Waits on `wakeup` (with `lock` held on entry and on return) until `done()` holds or this
  // clock reaches `deadline`; returns done(). A notify on `wakeup` re-checks both.
  virtual bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& wakeup,
                         TimePoint deadline, const std::function<bool()>& done) const = 0;

  bool waitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& wakeup,
               Duration timeout, const std::function<bool()>& done) const {
    const TimePoint current = now();
    const TimePoint deadline =
        timeout >= TimePoint::max() - current ? TimePoint::max() : current + timeout;
    return waitUntil(lock, wakeup, deadline, done);
  }
};

// steady_clock and system_clock, waiting on the condition variable itself.
const Clock& systemClock();

// Times as the rows and the rules hold them: microseconds since the epoch, and durations in
// microseconds.
inline int64_t microsSinceEpoch(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}
template <typename Rep, typename Period>
constexpr int64_t micros(std::chrono::duration<Rep, Period> duration) {
  return std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
}
constexpr double microsToSeconds(int64_t micros) { return static_cast<double>(micros) / 1e6; }
constexpr int64_t secondsToMicros(double seconds) { return static_cast<int64_t>(seconds * 1e6); }

}  // namespace tp::common
