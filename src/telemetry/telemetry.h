#pragma once
// The metric catalogue: every self-metric family of the processor is declared here, once, and
// handed to components as typed handles so that call sites never spell metric names.

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace tp::telemetry {

// Index of an HTTP status class: 1xx -> 0 ... 5xx -> 4.
constexpr size_t kStatusClasses = 5;
size_t statusClassIndex(unsigned status);

// Per-route request counter and latency histogram, one pair per status class, created up front
// so that serving a request touches no map and takes no lock.
struct RouteMetrics {
  std::array<prometheus::Counter*, kStatusClasses> requests{};
  std::array<prometheus::Histogram*, kStatusClasses> latency{};

  void observe(unsigned status, double seconds) const;
};

// Cluster-state cache health: sizes of the current snapshot, refresh timing and failures.
struct CacheMetrics {
  prometheus::Gauge* device_entries;
  prometheus::Gauge* pod_entries;
  prometheus::Gauge* workload_entries;
  prometheus::Gauge* ignored_unknown_type;
  prometheus::Gauge* ignored_without_number;
  prometheus::Gauge* last_success_timestamp;
  prometheus::Histogram* refresh_duration;
  prometheus::Counter* refresh_failures;
};

class Telemetry {
 public:
  explicit Telemetry(std::string_view version);

  // Handles for one HTTP route; `route` is a bounded name such as "/prometheus".
  RouteMetrics routeMetrics(const std::string& route);

  CacheMetrics cacheMetrics();

  prometheus::Registry& registry() { return *registry_; }

  // Prometheus text exposition of everything registered.
  std::string exposition() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_latency_;
  std::unique_ptr<prometheus::Collectable> process_collector_;
};

}  // namespace tp::telemetry
