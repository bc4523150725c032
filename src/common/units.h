#pragma once
// Parsing and printing of the human units used in configuration: byte sizes (KiB/MiB/GiB)
// and durations (ms/s/m).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tp::common {

// Accepts a plain byte count or a number with B, KiB, MiB or GiB (also KB/MB/GB as 1000-based).
absl::StatusOr<uint64_t> parseByteSize(std::string_view text);
// Largest unit that divides the value exactly: 33554432 -> "32MiB".
std::string formatByteSize(uint64_t bytes);

// Accepts a number with ms, s or m (fractions allowed: "1.5s"). A bare number is rejected so
// that "20" cannot silently mean 20 ms or 20 s.
absl::StatusOr<std::chrono::milliseconds> parseDuration(std::string_view text);
std::string formatDuration(std::chrono::milliseconds duration);

}  // namespace tp::common
