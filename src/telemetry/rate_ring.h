#pragma once
// Per-second rates of chosen counters over the last 15 minutes, kept in memory for the web
// console's Overview (no database, no storage). Once a second the sampler reads the registry, as
// /metrics does, and stores each flow's running total in the ring slot of that second; a rate is
// the difference of two slots over their distance. A flow is one counter series, or one per
// value of a label (a drop reason, an endpoint), found as the values appear.

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "prometheus/metric_family.h"

namespace tp::telemetry {

class Telemetry;

// Which counter series make a flow, and how the console names it.
struct FlowSpec {
  std::string_view group;   // "metrics", "logs", "endpoints", "training"
  std::string_view kind;    // "received", "forwarded", "dropped", "refused", "sent", "written", ...
  std::string_view family;  // the counter family
  // One flow per value of this label, named by the value; empty: one flow named `name`.
  std::string_view split_by;
  std::string_view name;
  // Only the series with this label value count ("" : every series).
  std::string_view where_label;
  std::string_view where_value;
};

struct FlowRates {
  std::string group, kind, name;
  std::vector<std::optional<double>> per_second;  // oldest first; none: no sample for the step
};

struct RateWindow {
  int64_t end_seconds = 0;  // Unix time of the last point
  int step_seconds = 1;
  std::vector<FlowRates> flows;
};

class RateRing {
 public:
  // 15 minutes, and a minute more so that the oldest step of a full window has its start.
  static constexpr size_t kSeconds = 960;
  static constexpr int kMaxWindowSeconds = 900;

  explicit RateRing(std::vector<FlowSpec> specs);

  // Stores every flow's total at `unix_seconds`. Thread-safe.
  void sample(int64_t unix_seconds, const std::vector<prometheus::MetricFamily>& families);

  // `points` rates ending at `end_seconds`, each over `step_seconds` (points × step ≤ kSeconds).
  RateWindow window(int64_t end_seconds, int step_seconds, size_t points) const;

  // The last second sampled; none before the first sample.
  std::optional<int64_t> lastSample() const;

 private:
  struct Flow {
    const FlowSpec* spec;
    std::string name;
    std::array<double, kSeconds> totals;  // NaN: no total for that slot's second
  };
  Flow& flowOf(const FlowSpec& spec, std::string_view name);

  const std::vector<FlowSpec> specs_;
  mutable std::mutex mutex_;
  std::array<int64_t, kSeconds> stamps_{};  // the second each slot holds; guarded by mutex_
  std::vector<Flow> flows_;                 // guarded by mutex_
  std::optional<int64_t> last_;             // guarded by mutex_
};

// Samples the registry into the ring once a second, from start() to stop().
class RateSampler {
 public:
  RateSampler(const Telemetry& telemetry, RateRing& ring,
              const common::Clock& clock = common::systemClock());
  ~RateSampler();
  void start();
  void stop();
  // One sample now (also what the thread does each second).
  void sampleNow();

 private:
  const Telemetry& telemetry_;
  RateRing& ring_;
  const common::Clock& clock_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace tp::telemetry
