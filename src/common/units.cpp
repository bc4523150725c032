#include "common/units.h"

#include "common/strings.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace tp::common {
namespace {

struct Unit {
  std::string_view suffix;
  double factor;
};

// Splits "12.5MiB" into 12.5 and "MiB"; fails on anything that is not number + optional suffix.
absl::StatusOr<std::pair<double, std::string_view>> splitNumber(std::string_view text) {
  text = trim(text);
  size_t digits_end = 0;
  while (digits_end < text.size() &&
         ((text[digits_end] >= '0' && text[digits_end] <= '9') || text[digits_end] == '.')) {
    ++digits_end;
  }
  if (digits_end == 0) {
    return absl::InvalidArgumentError(common::concat("'", text, "' does not start with a number"));
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits_end, value);
  if (ec != std::errc() || ptr != text.data() + digits_end || !std::isfinite(value)) {
    return absl::InvalidArgumentError(common::concat("'", text, "' is not a valid number"));
  }
  return std::make_pair(value, trim(text.substr(digits_end)));
}

}  // namespace

absl::StatusOr<uint64_t> parseByteSize(std::string_view text) {
  static constexpr Unit kUnits[] = {{"", 1},
                                    {"B", 1},
                                    {"KiB", 1024.0},
                                    {"MiB", 1024.0 * 1024},
                                    {"GiB", 1024.0 * 1024 * 1024},
                                    {"TiB", 1024.0 * 1024 * 1024 * 1024},
                                    {"KB", 1e3},
                                    {"MB", 1e6},
                                    {"GB", 1e9},
                                    {"TB", 1e12}};
  auto split = splitNumber(text);
  if (!split.ok()) return split.status();
  const auto [number, suffix] = *split;
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    const double bytes = std::round(number * unit.factor);
    if (bytes > static_cast<double>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(common::concat("'", text, "' is too large"));
    }
    return static_cast<uint64_t>(bytes);
  }
  return absl::InvalidArgumentError(
      common::concat("'", text, "' has unknown size unit '", suffix, "' (use B, KiB, MiB, GiB)"));
}

std::string formatByteSize(uint64_t bytes) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [suffix, factor] : kUnits) {
    if (bytes != 0 && bytes % factor == 0) return common::concat(bytes / factor, suffix);
  }
  return common::concat(bytes, "B");
}

absl::StatusOr<std::chrono::milliseconds> parseDuration(std::string_view text) {
  static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}};
  auto split = splitNumber(text);
  if (!split.ok()) return split.status();
  const auto [number, suffix] = *split;
  if (suffix.empty()) {
    return absl::InvalidArgumentError(
        common::concat("'", text, "' needs a unit (ms, s, m or h), e.g. '20s'"));
  }
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    const double millis = std::round(number * unit.factor);
    if (millis > static_cast<double>(std::numeric_limits<int64_t>::max()) / 2) {
      return absl::InvalidArgumentError(common::concat("'", text, "' is too large"));
    }
    return std::chrono::milliseconds(static_cast<int64_t>(millis));
  }
  return absl::InvalidArgumentError(
      common::concat("'", text, "' has unknown duration unit '", suffix, "' (use ms, s, m or h)"));
}

std::string formatDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms != 0 && ms % 60000 == 0) return common::concat(ms / 60000, "m");
  if (ms % 1000 == 0) return common::concat(ms / 1000, "s");
  return common::concat(ms, "ms");
}

}  // namespace tp::common
