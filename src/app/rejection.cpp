#include "app/rejection.h"

#include "common/strings.h"

namespace tp::app {

http::Response rejectRequest(const http::RequestContext& context, const absl::Status& status,
                             const telemetry::RejectedRequests& rejected) {
  unsigned http_status = 400;
  if (status.code() == absl::StatusCode::kResourceExhausted) http_status = 413;
  if (status.code() == absl::StatusCode::kUnimplemented) http_status = 415;
  rejected.count(http_status);
  return http::errorResponse(context.request, http_status, common::message(status));
}

http::Response deferRequest(const http::RequestContext& context, const absl::Status& status,
                            prometheus::Counter* deferred) {
  deferred->Increment();
  http::Response response = http::errorResponse(context.request, 503, common::message(status));
  response.set(boost::beast::http::field::retry_after, "5");
  return response;
}

absl::Status clusterStateLoaded(const cache::CacheRefresher& cache) {
  if (cache.loaded()) return absl::OkStatus();
  return absl::UnavailableError(
      "cluster state not loaded from the database yet (is the database reachable?); retry later");
}

}  // namespace tp::app
