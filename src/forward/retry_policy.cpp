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

}  // namespace tp::forward
