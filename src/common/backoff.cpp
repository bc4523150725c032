#include "common/backoff.h"

#include <algorithm>

namespace tp::common {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_(min), max_(max), random_(seed) {}

std::chrono::milliseconds Backoff::next(int attempt,
                                        std::optional<std::chrono::milliseconds> requested) {
  if (requested) return std::min(*requested, max_);
  const int doublings = std::clamp(attempt - 1, 0, 30);
  const double ceiling =
      std::min(static_cast<double>(max_.count()),
               static_cast<double>(min_.count()) * static_cast<double>(1ull << doublings));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(ceiling * jitter(random_)));
}

}  // namespace tp::common
