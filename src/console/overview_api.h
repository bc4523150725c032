#pragma once
// GET /ui/api/overview: what the console's Overview page shows, in one answer of a few tens of
// KB. Received, forwarded, dropped and refused per second for metrics, logs, storage endpoints
// and training rows, over up to the last 15 minutes (telemetry::RateRing, in memory); each
// endpoint's disk queue and how long its oldest batch has waited; the training writer's backlog and
// rejected rows; the cluster-state cache's sizes and age; readiness and every reason it is not
// ready.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cache/cache_refresher.h"
#include "forward/forwarder.h"
#include "http/router.h"
#include "telemetry/rate_ring.h"
#include "telemetry/telemetry.h"

namespace tp::console {

struct OverviewSources {
  const telemetry::Telemetry& telemetry;
  const telemetry::RateRing& rates;
  const cache::CacheRefresher& cache;
  const forward::Forwarder* forwarder = nullptr;                // null: no metricsWrite.endpoints
  std::function<std::vector<std::string>()> not_ready_reasons;  // empty: ready
  size_t training_buffer_rows = 0;                              // training.bufferRows
};

// The overview's JSON (the envelope's data) at `now_seconds` (Unix time): rates over
// `window_seconds`, a point per `step_seconds`.
std::string overviewJson(const OverviewSources& sources, int64_t now_seconds, int window_seconds,
                         int step_seconds);

// ?window=60..900 (seconds, default 900) &step=1..60 (default 5); 400 naming a bad parameter.
void addOverviewRoute(http::Router& router, OverviewSources sources);

}  // namespace tp::console
