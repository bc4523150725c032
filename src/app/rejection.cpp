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

}  // namespace tp::app
