#include "common/clock.h"

namespace tp::common {
namespace {

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
  bool waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& wakeup,
                 TimePoint deadline, const std::function<bool()>& done) const override {
    if (deadline == TimePoint::max()) {
      wakeup.wait(lock, done);
      return true;
    }
    return wakeup.wait_until(lock, deadline, done);
  }
};

}  // namespace

const Clock& systemClock() {
  static const SystemClock kSystemClock;
  return kSystemClock;
}

}  // namespace tp::common
