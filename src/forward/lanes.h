#pragma once
// With metricsWrite.concurrency N > 1 an endpoint sends over N lanes at once, each with its own
// disk queue and sender. A series always takes the same lane (a stable hash of its labels) and a
// lane sends in order, so every series reaches storage in the order its samples were accepted:
// a receiver without an out-of-order window (Prometheus) has nothing to reject.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tp::forward {

// Encoded WriteRequest fields cut into one part per lane, with the samples each part holds.
struct LaneParts {
  std::vector<std::string> fields;
  std::vector<size_t> samples;
};

// Splits `fields` (the timeseries and metadata fields of a WriteRequest, as the enricher writes
// them) into `lanes` parts: each series by its labels, metadata to lane 0. The parts' buffers
// are reused. InvalidArgument when the fields are not well-formed.
absl::Status splitIntoLanes(std::string_view fields, size_t lanes, LaneParts& parts);

}  // namespace tp::forward
