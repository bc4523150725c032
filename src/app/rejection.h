#pragma once
// How the ingestion handlers refuse a body they cannot read (the status says which kind of
// problem it is), or one they cannot take now; the Lens envelope carries the reason, the metrics
// count it.

#include "absl/status/status.h"
#include "cache/cache_refresher.h"
#include "http/router.h"
#include "telemetry/telemetry.h"

namespace tp::app {

// 413 for ResourceExhausted (over a size limit), 415 for Unimplemented (unsupported type or
// encoding), 400 for everything else (undecodable).
http::Response rejectRequest(const http::RequestContext& context, const absl::Status& status,
                             const telemetry::RejectedRequests& rejected);

// 503 + Retry-After for a request the processor cannot take now (the cluster state is not loaded
// yet, or the body could not be put on disk): nothing of it was accepted, so the sender retries.
// 503, not 429: Prometheus drops 429 answers by default but retries 5xx.
http::Response deferRequest(const http::RequestContext& context, const absl::Status& status,
                            prometheus::Counter* deferred);

// Until the cluster state has been read once, every series and line would miss its workload:
// such requests are deferred, not accepted and dropped.
absl::Status clusterStateLoaded(const cache::CacheRefresher& cache);

}  // namespace tp::app
