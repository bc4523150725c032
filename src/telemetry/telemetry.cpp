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

RemoteWriteMetrics Telemetry::remoteWriteMetrics(const std::vector<std::string>& drop_reasons) {
  auto counter = [this](const char* name,
                        const char* help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  };
  auto& received =
      counter("remote_write_received_total", "Remote-write input accepted for processing, by kind");
  auto& forwarded = counter("remote_write_forwarded_total",
                            "Enriched output handed to the storage senders, by kind");
  auto& series_dropped =
      counter("remote_write_dropped_series_total", "Input series not forwarded, by reason");
  auto& samples_dropped =
      counter("remote_write_dropped_samples_total", "Input samples not forwarded, by reason");
  auto& rejected = counter("remote_write_rejected_requests_total",
                           "Remote-write requests refused, by HTTP status");
  RemoteWriteMetrics metrics{
      .series_received = &received.Add({{"kind", "series"}}),
      .samples_received = &received.Add({{"kind", "samples"}}),
      .histograms_received = &received.Add({{"kind", "histograms"}}),
      .exemplars_received = &received.Add({{"kind", "exemplars"}}),
      .series_forwarded = &forwarded.Add({{"kind", "series"}}),
      .samples_forwarded = &forwarded.Add({{"kind", "samples"}}),
      .series_dropped = {},
      .samples_dropped = {},
      .requests_rejected = {&rejected.Add({{"status", "400"}}), &rejected.Add({{"status", "413"}}),
                            &rejected.Add({{"status", "415"}})},
  };
  for (const std::string& reason : drop_reasons) {
    metrics.series_dropped.push_back(&series_dropped.Add({{"reason", reason}}));
    metrics.samples_dropped.push_back(&samples_dropped.Add({{"reason", reason}}));
  }
  return metrics;
}

EndpointMetrics Telemetry::endpointMetrics(const std::string& endpoint) {
  auto& requests = prometheus::BuildCounter()
                       .Name("remote_write_send_requests_total")
                       .Help("Requests sent to storage, by endpoint and status class")
                       .Register(*registry_);
  auto counter = [this, &endpoint](const char* name, const char* help) {
    return &prometheus::BuildCounter()
                .Name(name)
                .Help(help)
                .Register(*registry_)
                .Add({{"endpoint", endpoint}});
  };
  EndpointMetrics metrics{
      .requests = {},
      .network_errors = counter("remote_write_send_network_errors_total",
                                "Sends that got no answer (connect, write or read failed)"),
      .retries = counter("remote_write_send_retries_total", "Sends repeated after a failure"),
      .bytes_sent =
          counter("remote_write_sent_bytes_total", "Compressed bytes delivered to storage"),
      .samples_sent = counter("remote_write_sent_samples_total", "Samples delivered to storage"),
      .batches_rejected = counter("remote_write_rejected_batches_total",
                                  "Batches storage refused with a 4xx other than 429; not retried"),
      .batches_dropped_full = counter("remote_write_dropped_batches_total",
                                      "Batches dropped because too many were pending"),
      .samples_dropped = counter("remote_write_send_dropped_samples_total",
                                 "Samples of rejected or dropped batches"),
      .pending_batches = &prometheus::BuildGauge()
                              .Name("remote_write_pending_batches")
                              .Help("Batches waiting to be sent, by endpoint")
                              .Register(*registry_)
                              .Add({{"endpoint", endpoint}}),
      .send_duration = &prometheus::BuildHistogram()
                            .Name("remote_write_send_duration_seconds")
                            .Help("Time of one request to storage, by endpoint")
                            .Register(*registry_)
                            .Add({{"endpoint", endpoint}}, latencyBuckets()),
  };
  for (size_t i = 0; i < kStatusClasses; ++i) {
    metrics.requests[i] =
        &requests.Add({{"endpoint", endpoint}, {"status_class", kStatusClassNames[i]}});
  }
  return metrics;
}

prometheus::Histogram* Telemetry::batchSamplesHistogram() {
  return &prometheus::BuildHistogram()
              .Name("remote_write_batch_samples")
              .Help("Samples per batch sent to storage")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{10, 100, 1000, 5000, 10000, 20000,
                                                               50000, 100000});
}

std::string Telemetry::exposition() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> process = process_collector_->Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace tp::telemetry
