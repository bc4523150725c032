#pragma once
// What to do with a remote-write answer, and how long to wait before trying again: 2xx is
// delivered; 429, 5xx and network errors are retried with exponential backoff and jitter (a
// Retry-After header wins); any other status rejects the batch for good.

#include <chrono>
#include <optional>
#include <random>
#include <string_view>

namespace tp::forward {

enum class SendOutcome { kDelivered, kRetry, kRejected };

// status 0 = network error (no answer).
SendOutcome classifyStatus(unsigned status);

// Parses a Retry-After header in delta-seconds form; nullopt for anything else.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view header);

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);

  // Delay before retry number `attempt` (1-based): min * 2^(attempt-1), capped at max, then
  // scaled by a random factor in [0.5, 1] so that many senders do not retry in lockstep.
  // A Retry-After from the server replaces it (capped at max).
  std::chrono::milliseconds next(int attempt, std::optional<std::chrono::milliseconds> retry_after);

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::mt19937_64 random_;
};

}  // namespace tp::forward
