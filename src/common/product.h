#pragma once
// The processor's name where other systems see it: the `job` label of the series it writes, and
// the marker in its own pods' names (their logs are not analysed, or they would loop).

#include <string_view>

namespace tp::common {

inline constexpr std::string_view kProcessorName = "primus-lens-telemetry-processor";

}  // namespace tp::common
