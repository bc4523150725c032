#include "forward/retry_policy.h"

#include <charconv>

#include "common/strings.h"

namespace tp::forward {

SendOutcome classifyStatus(unsigned status) {
  if (status >= 200 && status < 300) return SendOutcome::kDelivered;
  if (status == 0 || status == 429 || status >= 500) return SendOutcome::kRetry;
  return SendOutcome::kRejected;
}

std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view header) {
  header = common::trim(header);
  uint64_t seconds = 0;
  const auto [end, error] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (header.empty() || error != std::errc() || end != header.data() + header.size()) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::min<uint64_t>(seconds, 86'400) * 1000);
}

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_(min), max_(max), random_(seed) {}

std::chrono::milliseconds Backoff::next(int attempt,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  if (retry_after) return std::min(*retry_after, max_);
  const int doublings = std::clamp(attempt - 1, 0, 30);
  const double ceiling =
      std::min(static_cast<double>(max_.count()),
               static_cast<double>(min_.count()) * static_cast<double>(1ull << doublings));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(ceiling * jitter(random_)));
}

}  // namespace tp::forward
