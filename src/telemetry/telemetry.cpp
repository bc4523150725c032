#include "telemetry/telemetry.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

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

// Longest node name Kubernetes accepts (a DNS subdomain).
constexpr size_t kMaxNodeNameBytes = 253;

// Strict UTF-8, as the exposition format requires: no overlong forms, surrogates or code points
// beyond U+10FFFF.
bool isUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (lead < 0xc2 || lead > 0xf4 || i + length > text.size()) return false;
    uint32_t code = lead & (0x7f >> length);
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = code << 6 | (next & 0x3f);
    }
    if ((length == 3 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (length == 4 && (code < 0x10000 || code > 0x10ffff))) {
      return false;
    }
    i += length;
  }
  return true;
}

RejectedRequests rejectedRequests(prometheus::Family<prometheus::Counter>& family) {
  return {{&family.Add({{"status", "400"}}), &family.Add({{"status", "413"}}),
           &family.Add({{"status", "415"}})}};
}

}  // namespace

void RejectedRequests::count(unsigned http_status) const {
  by_status[http_status == 400 ? 0 : http_status == 413 ? 1 : 2]->Increment();
}

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
      .snapshot_file_failures =
          &prometheus::BuildCounter()
               .Name("cache_snapshot_file_write_failures_total")
               .Help("Snapshots read from the database that could not be saved under queue.dir")
               .Register(*registry_)
               .Add({}),
  };
}

ReloadMetrics Telemetry::reloadMetrics() {
  auto& family = prometheus::BuildCounter()
                     .Name("config_reloads_total")
                     .Help(
                         "Configuration reloads (SIGHUP, POST /-/reload) by result; a failed "
                         "one leaves the running configuration in place")
                     .Register(*registry_);
  return ReloadMetrics{.success = &family.Add({{"result", "success"}}),
                       .failure = &family.Add({{"result", "failure"}})};
}

SchemaMetrics Telemetry::schemaMetrics() {
  return SchemaMetrics{
      .migration_failures =
          &prometheus::BuildCounter()
               .Name("schema_migration_failures_total")
               .Help("Schema migrations that failed or left warnings; tried again later, while "
                     "the caches are read and rows written anyway")
               .Register(*registry_)
               .Add({}),
      .unique_key_missing = &prometheus::BuildGauge()
                                 .Name("database_unique_key_missing")
                                 .Help("1 while a table lacks the unique key of exactly-once "
                                       "writes (old duplicates block it; see `db dedupe`): "
                                       "concurrent replicas can then write a row twice")
                                 .Register(*registry_),
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
      .requests_rejected = rejectedRequests(rejected),
      .requests_deferred = &rejected.Add({{"status", "503"}}),
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
                                      "Batches dropped because the disk queue was full"),
      .samples_dropped = counter("remote_write_send_dropped_samples_total",
                                 "Samples of rejected or dropped batches"),
      .queue_corrupt_records = counter("remote_write_queue_corrupt_records_total",
                                       "Queued batches found corrupt at start and skipped"),
      .queue_sync_failures =
          counter("remote_write_queue_sync_failures_total",
                  "Periodic fdatasyncs of the disk queue that failed: batches queued meanwhile "
                  "may not survive a power loss"),
      .pending_batches = &prometheus::BuildGauge()
                              .Name("remote_write_pending_batches")
                              .Help("Batches in the disk queue waiting to be sent, by endpoint")
                              .Register(*registry_)
                              .Add({{"endpoint", endpoint}}),
      .queue_bytes = &prometheus::BuildGauge()
                          .Name("remote_write_queue_bytes")
                          .Help("Bytes of the disk queue on disk, by endpoint")
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

LogLatencyMetrics::LogLatencyMetrics(prometheus::Family<prometheus::Summary>& summary,
                                     prometheus::Family<prometheus::Histogram>& histogram,
                                     size_t max_nodes)
    : summary_(summary), histogram_(histogram), max_nodes_(max_nodes), other_(create("other")) {}

LogLatencyMetrics::Series LogLatencyMetrics::create(const std::string& node) {
  static const prometheus::Summary::Quantiles kQuantiles = {
      {0.5, 0.05}, {0.9, 0.01}, {0.95, 0.005}, {0.99, 0.001}};
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.1, 0.5, 1,  2,  3,   5,  8,
                                                                   10,  15,  30, 60, 120, 300};
  return {&summary_.Add({{"node", node}}, kQuantiles), &histogram_.Add({{"node", node}}, kBuckets)};
}

void LogLatencyMetrics::Series::observe(std::vector<double>& seconds) const {
  std::sort(seconds.begin(), seconds.end());
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  double previous = -kInfinity;
  for (double value : seconds) {
    histogram->Observe(value);
    previous = value > previous ? value : std::nextafter(previous, kInfinity);
    summary->Observe(previous);
  }
}

LogLatencyMetrics::Series LogLatencyMetrics::forNode(std::string_view node) {
  if (node.size() > kMaxNodeNameBytes || !isUtf8(node)) return other_;
  const std::string key(node);
  {
    std::shared_lock lock(mutex_);
    if (auto found = nodes_.find(key); found != nodes_.end()) return found->second;
    if (nodes_.size() >= max_nodes_) return other_;
  }
  std::unique_lock lock(mutex_);
  if (auto found = nodes_.find(key); found != nodes_.end()) return found->second;
  if (nodes_.size() >= max_nodes_) return other_;
  return nodes_.emplace(key, create(key)).first->second;
}

LogsMetrics Telemetry::logsMetrics(const std::vector<std::string>& skip_reasons,
                                   const std::vector<std::string_view>& formats, size_t max_nodes,
                                   const std::vector<std::string>& lifecycle_types) {
  auto family = [this](const char* name,
                       const char* help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  };
  auto& analysed = family("log_analysis_consume_count",
                          "Training log lines recognised, by type (StartTrain, Performance, "
                          "EndTrain, checkpoint lines)");
  auto& not_analysed = family("log_records_not_analysed_total",
                              "Records accepted but not analysed for training lines, by reason");
  auto& skipped = family("log_records_skipped_total",
                         "Records of accepted batches that could not be used, by reason");
  auto& hits = family("training_pattern_hits_total", "Performance lines matched, by format");
  auto& rejected = family("log_rejected_requests_total", "Log requests refused, by HTTP status");
  LogsMetrics metrics{
      .latency = std::make_shared<LogLatencyMetrics>(
          prometheus::BuildSummary()
              .Name("log_consume_latency_seconds")
              .Help("Time from a log record's date to its arrival here, by node")
              .Register(*registry_),
          prometheus::BuildHistogram()
              .Name("log_consume_latency_histogram_seconds")
              .Help("Time from a log record's date to its arrival here, by node")
              .Register(*registry_),
          max_nodes),
      .records_received =
          &family("log_records_received_total", "Log records in accepted batches").Add({}),
      .records_skipped = {},
      .not_analysed_no_kubernetes = &not_analysed.Add({{"reason", "no_kubernetes"}}),
      .not_analysed_own_pod = &not_analysed.Add({{"reason", "own_pod"}}),
      .start_train_lines = &analysed.Add({{"type", "StartTrain"}}),
      .performance_lines = &analysed.Add({{"type", "Performance"}}),
      .event_streams = &family("event_stream_create_count",
                               "StartTrain events queued for writing, one per workload of the pod")
                            .Add({}),
      .event_stream_errors = &family("event_stream_create_error_count",
                                     "StartTrain lines of pods with no known workload")
                                  .Add({}),
      .unattributed_lines = &family("training_lines_unattributed_total",
                                    "Training lines (any type) of pods with no known workload")
                                 .Add({}),
      .bad_iteration_lines =
          &family("training_lines_bad_iteration_total",
                  "Lines a performance format matched whose iteration is not an integer that fits "
                  "int64; not counted as performance lines")
               .Add({}),
      .iteration_beyond_column_lines =
          &family("training_lines_iteration_beyond_column_total",
                  "Performance lines whose iteration the training_performance column (32-bit "
                  "integer) cannot hold; no row is written")
               .Add({}),
      .pattern_hits = {},
      .requests_rejected = rejectedRequests(rejected),
      .requests_deferred = &rejected.Add({{"status", "503"}}),
  };
  for (const std::string& reason : skip_reasons) {
    metrics.records_skipped.push_back(&skipped.Add({{"reason", reason}}));
  }
  for (const std::string& type : lifecycle_types) {
    metrics.lifecycle_lines.push_back(&analysed.Add({{"type", type}}));
  }
  for (std::string_view format : formats) {
    metrics.pattern_hits.emplace(std::string(format), &hits.Add({{"format", std::string(format)}}));
  }
  return metrics;
}

TrainingWriteMetrics Telemetry::trainingWriteMetrics() {
  auto counter = [this](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto& rows = prometheus::BuildCounter()
                   .Name("training_performance_rows_total")
                   .Help("training_performance rows, by outcome (written; failed attempts)")
                   .Register(*registry_);
  auto& checkpoints = prometheus::BuildCounter()
                          .Name("checkpoint_event_writes_total")
                          .Help(
                              "checkpoint_event operations, by phase (rows created in_progress; "
                              "operations completed)")
                          .Register(*registry_);
  auto& rejected = prometheus::BuildCounter()
                       .Name("training_rows_rejected_total")
                       .Help("Rows the database refused (kept in the dead-letter file), by table")
                       .Register(*registry_);
  return TrainingWriteMetrics{
      .events_created = counter("workload_event_create_count",
                                "StartTrain workload events inserted (existing ones not counted)"),
      .event_errors = counter("workload_event_create_error_count",
                              "StartTrain workload events whose insert failed (retried)"),
      .performance_written = &rows.Add({{"outcome", "written"}}),
      .performance_failed = &rows.Add({{"outcome", "failed"}}),
      .write_errors =
          counter("database_write_errors_total",
                  "Training writes (rows, events or run lookups) that failed and were retried"),
      .journal_corrupt_records =
          counter("training_journal_corrupt_records_total",
                  "Row journal records that did not decode and were skipped"),
      .pending = &prometheus::BuildGauge()
                      .Name("training_rows_pending")
                      .Help("Rows and events waiting to be written to the database")
                      .Register(*registry_)
                      .Add({}),
      .write_duration = &prometheus::BuildHistogram()
                             .Name("training_write_duration_seconds")
                             .Help("Time of one database write of training rows or events")
                             .Register(*registry_)
                             .Add({}, latencyBuckets()),
      .events_rejected = &rejected.Add({{"table", "workload_event"}}),
      .performance_rejected = &rejected.Add({{"table", "training_performance"}}),
      .checkpoints_rejected = &rejected.Add({{"table", "checkpoint_event"}}),
      .end_events_created =
          counter("training_end_events_created_total",
                  "EndTrain workload events inserted (existing ones not counted)"),
      .checkpoints_started = &checkpoints.Add({{"phase", "started"}}),
      .checkpoints_completed = &checkpoints.Add({{"phase", "completed"}}),
      .series_submit_failures =
          counter("training_series_submit_failures_total",
                  "Batches of training samples the forwarder refused; their rows are retried"),
  };
}

TrainingSeriesMetrics Telemetry::trainingSeriesMetrics() {
  auto& samples = prometheus::BuildCounter()
                      .Name("training_series_samples_total")
                      .Help(
                          "Training samples, by outcome (queued for storage; dropped over the "
                          "per-workload series budget, training.series.maxPerWorkload)")
                      .Register(*registry_);
  return TrainingSeriesMetrics{
      .samples = &samples.Add({{"outcome", "queued"}}),
      .over_budget_samples = &samples.Add({{"outcome", "over_budget"}}),
      .series = &prometheus::BuildGauge()
                     .Name("training_series_tracked")
                     .Help("Distinct training series held against the per-workload budget")
                     .Register(*registry_)
                     .Add({}),
  };
}

TrainingPatternMetrics Telemetry::trainingPatternMetrics() {
  auto counter = [this](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto gauge = [this](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
  };
  return {
      .loaded = gauge("training_patterns_loaded",
                      "Enabled training_log_pattern rows in use, shadow ones included"),
      .shadow =
          gauge("training_patterns_shadow",
                "Rows in use that are only evaluated and counted (training.patternShadowSources)"),
      .invalid = gauge("training_patterns_invalid",
                       "Enabled training_log_pattern rows refused: the regex does not compile, a "
                       "group names no known field, or the sample_line does not match"),
      .reloads = counter("training_pattern_reloads_total", "Reads of training_log_pattern"),
      .reload_failures = counter("training_pattern_reload_failures_total",
                                 "Reads of training_log_pattern a database error cut short"),
      .hit_flush_failures =
          counter("training_pattern_hit_flush_failures_total",
                  "Writes of hit counts to training_log_pattern that failed; retried later"),
      .hits = &prometheus::BuildCounter()
                   .Name("training_log_pattern_hits_total")
                   .Help("Lines each training_log_pattern row matched, by id; shadow rows too")
                   .Register(*registry_),
  };
}

TrainingHealthMetrics Telemetry::trainingHealthMetrics(
    const std::vector<std::string_view>& event_types,
    const std::vector<std::string_view>& run_states) {
  auto counter = [this](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  TrainingHealthMetrics metrics{
      .checks =
          counter("training_health_checks_total",
                  "Checks of every run for stalls and anomalies (training.stall.checkInterval)"),
      .check_failures = counter("training_health_check_failures_total",
                                "Checks a database error cut short; the next one starts over"),
      .check_duration = &prometheus::BuildHistogram()
                             .Name("training_health_check_duration_seconds")
                             .Help("Time of one check of every run")
                             .Register(*registry_)
                             .Add({}, latencyBuckets()),
      .events = {},
      .runs = {},
      .runs_not_checked = counter("training_health_runs_not_checked_total",
                                  "Runs a check left out: beyond the runs one check looks at"),
      .series_lease = &prometheus::BuildGauge()
                           .Name("training_health_series_lease")
                           .Help("1 while this replica holds the lease to send the health series")
                           .Register(*registry_)
                           .Add({}),
      .samples =
          counter("training_health_samples_total", "Training-health samples queued for storage"),
      .submit_failures = counter("training_health_submit_failures_total",
                                 "Batches of training-health samples the forwarder refused"),
  };
  auto& events = prometheus::BuildCounter()
                     .Name("training_health_events_total")
                     .Help(
                         "Training-health workload events this replica recorded, by type "
                         "(each occurrence is recorded by one replica)")
                     .Register(*registry_);
  for (std::string_view type : event_types) {
    metrics.events.push_back(&events.Add({{"type", std::string(type)}}));
  }
  auto& runs = prometheus::BuildGauge()
                   .Name("training_health_runs")
                   .Help("Runs by state, as this replica's last check saw them")
                   .Register(*registry_);
  for (std::string_view state : run_states) {
    metrics.runs.push_back(&runs.Add({{"state", std::string(state)}}));
  }
  return metrics;
}

std::vector<FlowSpec> overviewFlows() {
  return {
      {.group = "metrics",
       .kind = "received",
       .family = "remote_write_received_total",
       .name = "samples",
       .where_label = "kind",
       .where_value = "samples"},
      {.group = "metrics",
       .kind = "forwarded",
       .family = "remote_write_forwarded_total",
       .name = "samples",
       .where_label = "kind",
       .where_value = "samples"},
      {.group = "metrics",
       .kind = "dropped",
       .family = "remote_write_dropped_samples_total",
       .split_by = "reason"},
      {.group = "metrics",
       .kind = "refused",
       .family = "remote_write_rejected_requests_total",
       .split_by = "status"},
      {.group = "endpoints",
       .kind = "sent",
       .family = "remote_write_sent_samples_total",
       .split_by = "endpoint"},
      {.group = "endpoints",
       .kind = "dropped",
       .family = "remote_write_send_dropped_samples_total",
       .split_by = "endpoint"},
      {.group = "logs",
       .kind = "received",
       .family = "log_records_received_total",
       .name = "records"},
      {.group = "logs",
       .kind = "recognised",
       .family = "log_analysis_consume_count",
       .split_by = "type"},
      {.group = "logs",
       .kind = "dropped",
       .family = "log_records_skipped_total",
       .split_by = "reason"},
      {.group = "logs",
       .kind = "not_analysed",
       .family = "log_records_not_analysed_total",
       .split_by = "reason"},
      {.group = "logs",
       .kind = "not_attributed",
       .family = "training_lines_unattributed_total",
       .name = "training lines"},
      {.group = "logs",
       .kind = "refused",
       .family = "log_rejected_requests_total",
       .split_by = "status"},
      {.group = "training",
       .kind = "written",
       .family = "training_performance_rows_total",
       .name = "performance_rows",
       .where_label = "outcome",
       .where_value = "written"},
      {.group = "training",
       .kind = "rejected",
       .family = "training_rows_rejected_total",
       .split_by = "table"},
  };
}

OverviewGauges overviewGauges(const std::vector<prometheus::MetricFamily>& families) {
  OverviewGauges gauges;
  const auto label = [](const prometheus::ClientMetric& metric, std::string_view name) {
    for (const auto& one : metric.label) {
      if (one.name == name) return one.value;
    }
    return std::string();
  };
  const auto queue = [&gauges](const std::string& endpoint) -> EndpointQueue& {
    for (EndpointQueue& known : gauges.queues) {
      if (known.endpoint == endpoint) return known;
    }
    return gauges.queues.emplace_back(EndpointQueue{.endpoint = endpoint});
  };
  for (const prometheus::MetricFamily& family : families) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      if (family.name == "remote_write_queue_bytes") {
        queue(label(metric, "endpoint")).bytes = metric.gauge.value;
      } else if (family.name == "remote_write_pending_batches") {
        queue(label(metric, "endpoint")).pending_batches = metric.gauge.value;
      } else if (family.name == "training_rows_pending") {
        gauges.training_rows_pending = metric.gauge.value;
      } else if (family.name == "training_rows_rejected_total") {
        gauges.training_rows_rejected.emplace_back(label(metric, "table"), metric.counter.value);
      } else if (family.name == "cache_last_refresh_success_timestamp_seconds") {
        gauges.cache_last_refresh_success = metric.gauge.value;
      } else if (family.name == "cache_refresh_failures_total") {
        gauges.cache_refresh_failures = metric.counter.value;
      }
    }
  }
  return gauges;
}

PatternHits patternHits(const std::vector<prometheus::MetricFamily>& families) {
  PatternHits hits;
  for (const prometheus::MetricFamily& family : families) {
    const bool by_format = family.name == "training_pattern_hits_total";
    if (!by_format && family.name != "training_log_pattern_hits_total") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (by_format && label.name == "format") {
          hits.by_format.emplace_back(label.value, metric.counter.value);
        } else if (!by_format && label.name == "pattern_id") {
          hits.by_stored_id.emplace_back(std::strtoll(label.value.c_str(), nullptr, 10),
                                         metric.counter.value);
        }
      }
    }
  }
  return hits;
}

std::string Telemetry::exposition() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> process = process_collector_->Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace tp::telemetry
