#pragma once
// Reading samples out of a Prometheus text exposition (/metrics, Telemetry::exposition()).

#include <optional>
#include <string>
#include <string_view>

namespace tp::testing {

// The value of the first sample whose series — the name and the labels as exposed, matched by
// the regular expression `series` from the start of a line — has one; nullopt when none does.
// `series` is e.g. R"(remote_write_pending_batches\{[^}]*\})" or "training_rows_pending".
std::optional<double> metricValue(std::string_view exposition, const std::string& series);

// The lines of `exposition` that start with `prefix` (a metric family's name), each ending in
// a newline.
std::string metricLines(std::string_view exposition, std::string_view prefix);

}  // namespace tp::testing
