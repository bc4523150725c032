#pragma once
// Troubleshooting routes of the metrics path, all without side effects on what is forwarded:
//   POST /explain: one series (Prometheus text form or JSON labels) run through the remote-write
//     decoder and the enricher against the current snapshot, into a scratch buffer: the rule
//     that found the pod, the pod, its workloads, the series as they would be forwarded (decoded
//     from what the enricher wrote) or the drop reason, and the snapshot's generation and age.
//     Or one Fluent Bit record run through the batch parser and the logs path's analyzer, whose
//     rows and events are read instead of journaled: analysed or why not, the node label, the
//     format that matched (or the nearest ones), its fields, the rows and events, and the
//     training series they become;
//   POST /metrics/debug/config, GET /metrics/debug/config, GET|DELETE /metrics/debug/records,
//     POST /metrics/debug/disable: the per-series tracer (enrich/series_tracer.h), Lens's shapes;
//   GET /metrics/active: the metric names received lately (enrich/active_metrics.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cache/cache_refresher.h"
#include "config/config.h"
#include "enrich/active_metrics.h"
#include "enrich/series_enricher.h"
#include "enrich/series_tracer.h"
#include "http/router.h"
#include "storage/database.h"
#include "training/pattern_registry.h"
#include "training/performance_extractor.h"

namespace tp::app {

// The largest explain body: one series.
inline constexpr size_t kMaxExplainBodyBytes = size_t{256} * 1024;

struct ExplainInput {
  const cache::ClusterSnapshot& snapshot;
  cache::SnapshotOrigin origin;
  enrich::EnrichLimits limits;
  int64_t now_ms = 0;  // the sample's timestamp when the body gives none
  const training::PerformanceExtractor* extractor = nullptr;  // null: records are refused
  std::string_view client_address;  // a record's node label when it names no host
  // A record's training series: the database that numbers its runs (read, never written) and
  // the series' settings; either null: the series are off, and none are shown.
  storage::Database* database = nullptr;
  const config::TrainingSeriesConfig* series = nullptr;
};

// The explanation's JSON (the envelope's data), or InvalidArgument naming what is wrong with
// the body.
absl::StatusOr<std::string> explainRequest(std::string_view body, const ExplainInput& input);

absl::StatusOr<enrich::TraceConfig> parseTraceConfig(std::string_view body);

// `series`: the training series' settings when they are on, else null.
void addDebugRoutes(http::Router& router, const cache::CacheRefresher& cache,
                    enrich::EnrichLimits limits, const training::PatternRegistry& patterns,
                    storage::Database& database, std::optional<config::TrainingSeriesConfig> series,
                    enrich::SeriesTracer& tracer, enrich::ActiveMetrics& active);

}  // namespace tp::app
