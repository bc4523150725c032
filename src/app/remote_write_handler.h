#pragma once
// POST /prometheus, /v1/prometheus, /api/v1/write: decompress (capped), decode remote-write 1.0
// or 2.0, enrich against the current cluster snapshot, hand the result to the forwarder.
// 204 when accepted (2.0 also gets the X-Prometheus-Remote-Write-*-Written headers); 400 for an
// undecodable body, 413 over the size limits, 415 for an unsupported type or encoding. A
// rejected request contributes nothing. Each accepted request's metric names go to the active
// metrics table, and its series to the tracer while that is enabled.

#include "cache/cache_refresher.h"
#include "enrich/request_observers.h"
#include "enrich/series_enricher.h"
#include "forward/forwarder.h"
#include "http/router.h"
#include "ingest/remote_write/decompress.h"
#include "ingest/remote_write/write_request.h"
#include "telemetry/telemetry.h"

namespace tp::app {

class RemoteWriteHandler {
 public:
  RemoteWriteHandler(const cache::CacheRefresher& cache, forward::Forwarder* forwarder,
                     size_t max_decoded_bytes, enrich::EnrichLimits enrich_limits,
                     telemetry::RemoteWriteMetrics metrics, enrich::SeriesTracer& tracer,
                     enrich::ActiveMetrics& active);

  http::Response handle(const http::RequestContext& context);

 private:
  http::Response reject(const http::RequestContext& context, const absl::Status& status);

  const cache::CacheRefresher& cache_;
  forward::Forwarder* forwarder_;  // null when forwarding is disabled
  size_t max_decoded_bytes_;
  enrich::EnrichLimits enrich_limits_;
  telemetry::RemoteWriteMetrics metrics_;
  enrich::SeriesTracer& tracer_;
  enrich::ActiveMetrics& active_;
};

}  // namespace tp::app
