#pragma once
// What to do with a remote-write answer: 2xx is delivered; 429, 5xx and network errors are
// retried (common::Backoff; a Retry-After header wins); any other status rejects the batch for
// good.

#include <chrono>
#include <optional>
#include <string_view>

namespace tp::forward {

enum class SendOutcome { kDelivered, kRetry, kRejected };

// status 0 = network error (no answer).
SendOutcome classifyStatus(unsigned status);

// Parses a Retry-After header in delta-seconds form; nullopt for anything else.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view header);

}  // namespace tp::forward
