#pragma once
// How the ingestion handlers refuse a body they cannot read: the status says which kind of
// problem it is, the Lens envelope carries the reason, the metrics count it.

#include "absl/status/status.h"
#include "http/router.h"
#include "telemetry/telemetry.h"

namespace tp::app {

// 413 for ResourceExhausted (over a size limit), 415 for Unimplemented (unsupported type or
// encoding), 400 for everything else (undecodable).
http::Response rejectRequest(const http::RequestContext& context, const absl::Status& status,
                             const telemetry::RejectedRequests& rejected);

}  // namespace tp::app
