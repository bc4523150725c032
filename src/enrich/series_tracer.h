#pragma once
// The per-series tracer behind /v1/metrics/debug/*: while enabled, every series whose name
// matches a pattern and whose labels match selectors is recorded with what enrichment did to it
// (passed or filtered, and why). Disabled, it costs the remote-write path one atomic load per
// request. The pattern is compiled once per configuration; records live in a fixed-size ring of
// individually locked slots, and counts are added once per request, so concurrent requests never
// wait on one lock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "enrich/series_enricher.h"

namespace re2 {
class RE2;
}

namespace tp::enrich {

inline constexpr size_t kDefaultTraceRecords = 1000;
inline constexpr size_t kMaxTraceRecords = 10000;

struct TraceConfig {
  bool enabled = false;
  // RE2, matched anywhere in the name (as Lens did); empty: every name.
  std::string metric_pattern;
  // Label name -> value: exact, "*" for any non-empty value, or a glob with '*' and '?'.
  std::vector<std::pair<std::string, std::string>> label_selectors;
  size_t max_records = kDefaultTraceRecords;
};

struct TraceRecord {
  std::chrono::system_clock::time_point timestamp;
  std::string metric_name;
  std::vector<std::pair<std::string, std::string>> labels;  // as received
  std::string pod_name;
  std::string pod_uid;
  bool passed = false;
  std::string reason;
  size_t sample_count = 0;  // samples forwarded per workload (0 when filtered)
};

struct TraceStats {
  uint64_t total_matched = 0;
  uint64_t total_passed = 0;
  uint64_t total_filtered = 0;
  std::chrono::system_clock::time_point last_update_time;  // epoch: nothing matched yet
};

// Why a series was forwarded or dropped, in the tracer's words: "passed: ...",
// "missing_pod_info: ...", "no_workload_found: ...", "all_samples_negative: ...",
// "missing_metric_name: ...".
std::string traceReason(const SeriesResolution& resolution);

class SeriesTracer {
  struct State;

 public:
  explicit SeriesTracer(const common::Clock& clock = common::systemClock());
  ~SeriesTracer();

  // Replaces the configuration, its records and stats. InvalidArgument naming the problem (a
  // pattern RE2 refuses, max_records out of 1..kMaxTraceRecords, an empty selector name).
  absl::Status configure(TraceConfig config);
  void disable();
  // The one load the remote-write path pays per request.
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  TraceConfig config() const;
  std::vector<TraceRecord> records() const;  // oldest first
  TraceStats stats() const;
  void clear();  // records and stats; the configuration stays

  // Matches and records the series of one request; nothing is kept until commit(), so a refused
  // request leaves no record.
  class Session final : public SeriesObserver {
   public:
    void onResolved(const SeriesResolution& resolution) override;
    void commit();

   private:
    friend class SeriesTracer;
    Session(std::shared_ptr<State> state, const common::Clock& clock)
        : state_(std::move(state)), clock_(clock) {}

    std::shared_ptr<State> state_;
    const common::Clock& clock_;
    std::vector<TraceRecord> pending_;
    uint64_t passed_ = 0;
    uint64_t filtered_ = 0;
  };
  // Call only when enabled(); the configuration of the moment, read without a shared lock
  // except on a thread's first request after a change.
  Session session() const;

 private:
  std::shared_ptr<State> current() const;

  const common::Clock& clock_;
  std::atomic<bool> enabled_{false};
  std::atomic<uint64_t> generation_;
  mutable std::mutex mutex_;      // configuration changes; readers copy state_ once per change
  std::shared_ptr<State> state_;  // guarded by mutex_
};

}  // namespace tp::enrich
