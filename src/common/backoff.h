#pragma once
// How long to wait before retrying a failed delivery: exponential, capped, with jitter so that
// many senders do not retry in lockstep. Shared by the forwarder and the training writer.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace tp::common {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);

  // Delay before retry number `attempt` (1-based): min * 2^(attempt-1), capped at max, then
  // scaled by a random factor in [0.5, 1]. A delay the other side asked for (such as a
  // Retry-After) replaces it, capped at max.
  std::chrono::milliseconds next(int attempt,
                                 std::optional<std::chrono::milliseconds> requested = std::nullopt);

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::mt19937_64 random_;
};

}  // namespace tp::common
