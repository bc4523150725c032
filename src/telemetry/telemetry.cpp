#include "telemetry/telemetry.h"

#include "prometheus/text_serializer.h"
#include "telemetry/process_collector.h"

namespace tp::telemetry {
namespace {

constexpr std::array<const char*, kStatusClasses> kStatusClassNames = {"1xx", "2xx", "3xx", "4xx",
                                                                       "5xx"};

const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

}  // namespace

size_t statusClassIndex(unsigned status) {
  if (status < 100 || status >= 600) return kStatusClasses - 1;
  return status / 100 - 1;
}

void RouteMetrics::observe(unsigned status, double seconds) const {
  const size_t index = statusClassIndex(status);
  requests[index]->Increment();
  latency[index]->Observe(seconds);
}

Telemetry::Telemetry(std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(prometheus::BuildCounter()
                         .Name("http_requests_total")
                         .Help("HTTP requests served, by route and status class")
                         .Register(*registry_)),
      http_latency_(prometheus::BuildHistogram()
                        .Name("http_request_duration_seconds")
                        .Help("Time from request headers read to response ready, by route and "
                              "status class")
                        .Register(*registry_)),
      process_collector_(std::make_unique<ProcessCollector>()) {
  prometheus::BuildGauge()
      .Name("telemetry_processor_build_info")
      .Help("Always 1; the version label names the running build")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
}

RouteMetrics Telemetry::routeMetrics(const std::string& route) {
  RouteMetrics metrics;
  for (size_t i = 0; i < kStatusClasses; ++i) {
    const prometheus::Labels labels = {{"route", route}, {"status_class", kStatusClassNames[i]}};
    metrics.requests[i] = &http_requests_.Add(labels);
    metrics.latency[i] = &http_latency_.Add(labels, latencyBuckets());
  }
  return metrics;
}

CacheMetrics Telemetry::cacheMetrics() {
  auto& entries = prometheus::BuildGauge()
                      .Name("cache_entries")
                      .Help("Entries in the current cluster-state snapshot, by cache")
                      .Register(*registry_);
  auto& ignored = prometheus::BuildGauge()
                      .Name("cache_ignored_devices")
                      .Help("Devices of running pods left out of the current snapshot, by reason")
                      .Register(*registry_);
  return CacheMetrics{
      .device_entries = &entries.Add({{"cache", "device_pod"}}),
      .pod_entries = &entries.Add({{"cache", "pod_workload"}}),
      .workload_entries = &entries.Add({{"cache", "workload"}}),
      .ignored_unknown_type = &ignored.Add({{"reason", "unknown_device_type"}}),
      .ignored_without_number = &ignored.Add({{"reason", "gpu_without_device_no"}}),
      .last_success_timestamp = &prometheus::BuildGauge()
                                     .Name("cache_last_refresh_success_timestamp_seconds")
                                     .Help("Unix time of the last successful cache refresh")
                                     .Register(*registry_)
                                     .Add({}),
      .refresh_duration =
          &prometheus::BuildHistogram()
               .Name("cache_refresh_duration_seconds")
               .Help("Time to read the cluster state and build a snapshot")
               .Register(*registry_)
               .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5,
                                                                10, 30}),
      .refresh_failures = &prometheus::BuildCounter()
                               .Name("cache_refresh_failures_total")
                               .Help("Cache refreshes that failed; the previous snapshot stays")
                               .Register(*registry_)
                               .Add({}),
  };
}

std::string Telemetry::exposition() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> process = process_collector_->Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace tp::telemetry
