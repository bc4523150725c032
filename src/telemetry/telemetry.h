#pragma once
// The metric catalogue: every self-metric family of the processor is declared here, once, and
// handed to components as typed handles so that call sites never spell metric names.

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// Remote-write ingestion and enrichment, input side and drops by reason.
struct RemoteWriteMetrics {
  prometheus::Counter* series_received;
  prometheus::Counter* samples_received;
  prometheus::Counter* histograms_received;
  prometheus::Counter* exemplars_received;
  prometheus::Counter* series_forwarded;
  prometheus::Counter* samples_forwarded;
  std::vector<prometheus::Counter*> series_dropped;  // by drop reason, in the given order
  std::vector<prometheus::Counter*> samples_dropped;
  std::array<prometheus::Counter*, 3> requests_rejected;  // 400, 413, 415
};

// One storage endpoint's sender.
struct EndpointMetrics {
  std::array<prometheus::Counter*, kStatusClasses> requests;
  prometheus::Counter* network_errors;
  prometheus::Counter* retries;
  prometheus::Counter* bytes_sent;
  prometheus::Counter* samples_sent;
  prometheus::Counter* batches_rejected;      // 4xx other than 429: not retried
  prometheus::Counter* batches_dropped_full;  // pending queue full: oldest dropped
  prometheus::Counter* samples_dropped;
  prometheus::Gauge* pending_batches;
  prometheus::Histogram* send_duration;
};

class Telemetry {
 public:
  explicit Telemetry(std::string_view version);

  // Handles for one HTTP route; `route` is a bounded name such as "/prometheus".
  RouteMetrics routeMetrics(const std::string& route);

  CacheMetrics cacheMetrics();
  RemoteWriteMetrics remoteWriteMetrics(const std::vector<std::string>& drop_reasons);
  EndpointMetrics endpointMetrics(const std::string& endpoint);
  prometheus::Histogram* batchSamplesHistogram();

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
