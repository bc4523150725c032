#pragma once
// The standard process_* metrics (CPU, memory, file descriptors, start time), read from /proc at
// scrape time, so that operators and the benchmark harness see the processor's own footprint.

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace tp::telemetry {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace tp::telemetry
