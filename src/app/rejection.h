#pragma once
// How the ingestion handlers refuse a body they cannot read (the status says which kind of
// problem it is), or one they cannot take now; the Lens envelope carries the reason, the metrics
// count it.

#include "absl/status/status.h"
#include "http/router.h"
#include "telemetry/telemetry.h"

namespace tp::app {

// 413 for ResourceExhausted (over a size limit), 415 for Unimplemented (unsupported type or
// encoding), 400 for everything else (undecodable).
http::Response rejectRequest(const http::RequestContext& context, const absl::Status& status,
                             const telemetry::RejectedRequests& rejected);

// 503 + Retry-After for a valid body that could not be put on disk: nothing of it was accepted,
// so the sender retries. 503, not 429: Prometheus drops 429 answers by default but retries 5xx.
// ResourceExhausted (queue or buffer full) is counted in `refused_full`.
http::Response deferRequest(const http::RequestContext& context, const absl::Status& status,
                            prometheus::Counter* refused_full);

}  // namespace tp::app
