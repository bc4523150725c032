#pragma once
// Lets a repeated log message through at most once per interval and counts the ones held back,
// so a flood of one problem costs one line per interval while its counter still counts each one.
// The caller passes the time (tests move it); one instance serves one thread.

#include <chrono>
#include <cstdint>
#include <optional>

namespace tp::common {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

  // The number of messages held back since the last one let through, when this one may be
  // logged now; nullopt when it is held back.
  std::optional<uint64_t> admit(Clock::time_point now) {
    if (last_.has_value() && now - *last_ < interval_) {
      ++held_back_;
      return std::nullopt;
    }
    last_ = now;
    const uint64_t held_back = held_back_;
    held_back_ = 0;
    return held_back;
  }

 private:
  Clock::duration interval_;
  std::optional<Clock::time_point> last_;
  uint64_t held_back_ = 0;
};

}  // namespace tp::common
