#pragma once
// Lets a repeated log message through at most once per interval and counts the ones held back,
// so a flood of one problem costs one line per interval while its counter still counts each one
// (as VictoriaMetrics' logger.WithThrottler does). One instance per kind of message; any thread
// may use it. The time comes from the injected clock, so tests move it.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/clock.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tp::common {

class LogThrottle {
 public:
  explicit LogThrottle(Clock::Duration interval, const Clock& clock = systemClock())
      : interval_(interval), clock_(clock) {}

  // Logs the formatted message at `level` unless one went through less than an interval ago; a
  // message let through says how many were held back since the last one.
  template <typename... Args>
  void log(spdlog::level::level_enum level, fmt::format_string<Args...> format, Args&&... args) {
    const std::optional<uint64_t> held_back = admit();
    if (!held_back) return;
    std::string message = fmt::format(format, std::forward<Args>(args)...);
    if (*held_back > 0) message += fmt::format(" ({} more since the last report)", *held_back);
    spdlog::log(level, "{}", message);
  }

  // For a caller that logs several lines per report: the number held back since the last one let
  // through when it may log now; nullopt when it is held back.
  std::optional<uint64_t> admit() {
    const Clock::TimePoint now = clock_.now();
    std::lock_guard lock(mutex_);
    if (last_.has_value() && now - *last_ < interval_) {
      ++held_back_;
      return std::nullopt;
    }
    last_ = now;
    return std::exchange(held_back_, 0);
  }

 private:
  const Clock::Duration interval_;
  const Clock& clock_;
  std::mutex mutex_;
  std::optional<Clock::TimePoint> last_;  // guarded by mutex_
  uint64_t held_back_ = 0;                // guarded by mutex_
};

}  // namespace tp::common
