#pragma once
// The metric catalogue: every self-metric family of the processor is declared here, once, and
// handed to components as typed handles so that call sites never spell metric names.

#include <array>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/summary.h"
#include "telemetry/rate_ring.h"

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
  prometheus::Counter* snapshot_file_failures;
};

// The schema migration run at start and retried until every step is in place.
struct SchemaMetrics {
  prometheus::Counter* migration_failures;
  // database_unique_key_missing{table}: 1 while a table's insert-if-absent key is missing
  prometheus::Family<prometheus::Gauge>* unique_key_missing;
};

// Requests an ingestion handler refused as unreadable, by HTTP status: 400, 413, 415.
struct RejectedRequests {
  std::array<prometheus::Counter*, 3> by_status{};
  void count(unsigned http_status) const;
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
  RejectedRequests requests_rejected;
  prometheus::Counter* requests_deferred;  // 503: not taken now, the sender retries
};

// One storage endpoint's sender.
struct EndpointMetrics {
  std::array<prometheus::Counter*, kStatusClasses> requests;
  prometheus::Counter* network_errors;
  prometheus::Counter* retries;
  prometheus::Counter* bytes_sent;
  prometheus::Counter* samples_sent;
  prometheus::Counter* batches_rejected;      // 4xx other than 429: not retried
  prometheus::Counter* batches_dropped_full;  // disk queue full
  prometheus::Counter* samples_dropped;
  prometheus::Counter* queue_corrupt_records;
  prometheus::Counter* queue_sync_failures;  // periodic fdatasyncs that failed
  prometheus::Gauge* pending_batches;
  prometheus::Gauge* queue_bytes;
  prometheus::Histogram* send_duration;
};

// Log delivery latency by node, with the number of distinct node label values capped: the first
// `max_nodes` nodes get their own series, later ones share node="other", and so do names that
// cannot be a node's (longer than Kubernetes allows, or not UTF-8) so that a label stays small.
class LogLatencyMetrics {
 public:
  LogLatencyMetrics(prometheus::Family<prometheus::Summary>& summary,
                    prometheus::Family<prometheus::Histogram>& histogram, size_t max_nodes);

  struct Series {
    prometheus::Summary* summary;
    prometheus::Histogram* histogram;

    // Observes one batch's latencies in both, sorting `seconds`. prometheus-cpp's summary (CKMS)
    // takes time quadratic in values that repeat or descend (records of one instant, or in time
    // order), so they reach it ascending, each repeat raised by one ulp.
    void observe(std::vector<double>& seconds) const;
  };
  // Thread-safe; the series of a node once created stays valid for the process lifetime.
  Series forNode(std::string_view node);

 private:
  Series create(const std::string& node);

  prometheus::Family<prometheus::Summary>& summary_;
  prometheus::Family<prometheus::Histogram>& histogram_;
  size_t max_nodes_;
  std::shared_mutex mutex_;
  absl::flat_hash_map<std::string, Series> nodes_;  // guarded by mutex_
  Series other_;                                    // set at construction
};

// The logs path: records in, records skipped or not analysed, training lines recognised.
struct LogsMetrics {
  std::shared_ptr<LogLatencyMetrics> latency;
  prometheus::Counter* records_received;
  std::vector<prometheus::Counter*> records_skipped;  // by the parser's skip reasons, in order
  prometheus::Counter* not_analysed_no_kubernetes;
  prometheus::Counter* not_analysed_own_pod;
  prometheus::Counter* start_train_lines;  // log_analysis_consume_count{type="StartTrain"}
  prometheus::Counter* performance_lines;  // log_analysis_consume_count{type="Performance"}
  // log_analysis_consume_count{type} of the lifecycle types given, in their order
  std::vector<prometheus::Counter*> lifecycle_lines;
  prometheus::Counter* event_streams;        // StartTrain events queued, one per workload
  prometheus::Counter* event_stream_errors;  // StartTrain lines no workload could take
  prometheus::Counter* unattributed_lines;   // training lines of pods without a known workload
  prometheus::Counter* bad_iteration_lines;  // near misses: the iteration is not an int64
  // performance lines whose iteration the training_performance column (32 bits) cannot hold
  prometheus::Counter* iteration_beyond_column_lines;
  absl::flat_hash_map<std::string, prometheus::Counter*> pattern_hits;  // by format name
  RejectedRequests requests_rejected;
  prometheus::Counter* requests_deferred;  // 503: not taken now, the sender retries
};

// The writer of training rows and events to the database.
struct TrainingWriteMetrics {
  prometheus::Counter* events_created;  // workload_event_create_count
  prometheus::Counter* event_errors;    // workload_event_create_error_count
  prometheus::Counter* performance_written;
  prometheus::Counter* performance_failed;
  prometheus::Counter* write_errors;  // failed database statements
  prometheus::Counter* journal_corrupt_records;
  prometheus::Gauge* pending;
  prometheus::Histogram* write_duration;
  // training_rows_rejected_total{table}: rows the database refused, moved to the dead-letter file
  prometheus::Counter* events_rejected;
  prometheus::Counter* performance_rejected;
  prometheus::Counter* checkpoints_rejected;
  prometheus::Counter* end_events_created;     // EndTrain events inserted
  prometheus::Counter* checkpoints_started;    // checkpoint_event rows created in_progress
  prometheus::Counter* checkpoints_completed;  // checkpoint_event operations ended
  // Samples of the training series the forwarder did not take (retried with their batch).
  prometheus::Counter* series_submit_failures;
};

// The training series encoder (training/training_series.h).
struct TrainingSeriesMetrics {
  prometheus::Counter* samples;              // encoded for the forwarder
  prometheus::Counter* over_budget_samples;  // dropped: training.series.maxPerWorkload
  prometheus::Gauge* series;                 // distinct series tracked against the budget
};

// The training-health detector (training/health_monitor.h).
struct TrainingHealthMetrics {
  prometheus::Counter* checks;          // completed checks of every run
  prometheus::Counter* check_failures;  // checks a database error cut short
  prometheus::Histogram* check_duration;
  std::vector<prometheus::Counter*> events;  // recorded by this replica, per event type given
  std::vector<prometheus::Gauge*> runs;      // per run state given, as the last check saw them
  prometheus::Counter* runs_not_checked;     // beyond the runs one check looks at
  prometheus::Gauge* series_lease;           // 1 while this replica sends the health series
  prometheus::Counter* samples;              // health samples queued for storage
  prometheus::Counter* submit_failures;      // batches of health samples the forwarder refused
};

// The training_log_pattern registry (training/pattern_registry.h).
struct TrainingPatternMetrics {
  prometheus::Gauge* loaded;                // rows in use, shadow ones included
  prometheus::Gauge* shadow;                // of those, rows that only count
  prometheus::Gauge* invalid;               // enabled rows refused: bad regex, group or sample line
  prometheus::Counter* reloads;             // reads of the table
  prometheus::Counter* reload_failures;     // reads a database error cut short
  prometheus::Counter* hit_flush_failures;  // writes of hit counts that failed (kept for later)
  // Lines each row matched, shadow rows too, by pattern_id; never by the regex text.
  prometheus::Family<prometheus::Counter>* hits;
};

// config_reloads_total{result}: reloads applied, and refused (the running configuration stays).
struct ReloadMetrics {
  prometheus::Counter* success;
  prometheus::Counter* failure;
};

// The flows of data the web console's Overview shows per second (RateRing): received,
// forwarded, dropped by reason and refused by status, for metrics, logs, storage endpoints and
// training rows.
std::vector<FlowSpec> overviewFlows();

// What the Overview shows as it stands, read from `families` (Telemetry::collect()).
struct EndpointQueue {
  std::string endpoint;
  double bytes = 0;            // remote_write_queue_bytes
  double pending_batches = 0;  // remote_write_pending_batches
};
struct OverviewGauges {
  std::vector<EndpointQueue> queues;
  double training_rows_pending = 0;
  std::vector<std::pair<std::string, double>> training_rows_rejected;  // by table, since start
  double cache_last_refresh_success = 0;                               // Unix seconds; 0: never
  double cache_refresh_failures = 0;
};
OverviewGauges overviewGauges(const std::vector<prometheus::MetricFamily>& families);

// Lines each pattern matched in this process: performance lines by format name, and database
// patterns by id (shadow ones too).
struct PatternHits {
  std::vector<std::pair<std::string, double>> by_format;
  std::vector<std::pair<int64_t, double>> by_stored_id;
};
PatternHits patternHits(const std::vector<prometheus::MetricFamily>& families);

class Telemetry {
 public:
  explicit Telemetry(std::string_view version);

  // Handles for one HTTP route; `route` is a bounded name such as "/prometheus".
  RouteMetrics routeMetrics(const std::string& route);

  CacheMetrics cacheMetrics();
  SchemaMetrics schemaMetrics();
  RemoteWriteMetrics remoteWriteMetrics(const std::vector<std::string>& drop_reasons);
  EndpointMetrics endpointMetrics(const std::string& endpoint);
  prometheus::Histogram* batchSamplesHistogram();
  LogsMetrics logsMetrics(const std::vector<std::string>& skip_reasons,
                          const std::vector<std::string_view>& formats, size_t max_nodes,
                          const std::vector<std::string>& lifecycle_types = {});
  TrainingWriteMetrics trainingWriteMetrics();
  TrainingSeriesMetrics trainingSeriesMetrics();
  TrainingHealthMetrics trainingHealthMetrics(const std::vector<std::string_view>& event_types,
                                              const std::vector<std::string_view>& run_states);
  TrainingPatternMetrics trainingPatternMetrics();
  ReloadMetrics reloadMetrics();

  // Prometheus text exposition of everything registered.
  std::string exposition() const;
  // Everything registered, as the exposition shows it (without the process collector's).
  std::vector<prometheus::MetricFamily> collect() const { return registry_->Collect(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_latency_;
  std::unique_ptr<prometheus::Collectable> process_collector_;
};

}  // namespace tp::telemetry
