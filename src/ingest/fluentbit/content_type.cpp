#include "ingest/fluentbit/content_type.h"

#include "common/strings.h"

namespace tp::ingest {

absl::StatusOr<LogEncoding> parseLogEncoding(std::string_view header) {
  const std::string_view value = common::trim(header);
  if (value.empty() || value == "identity") return LogEncoding::kIdentity;
  if (value == "gzip" || value == "x-gzip" || value == "deflate") return LogEncoding::kGzip;
  return absl::UnimplementedError(
      common::concat("unsupported Content-Encoding '", value, "' (use gzip or none)"));
}

absl::StatusOr<LogBatchFormat> selectLogBatchFormat(std::string_view content_type,
                                                    std::string_view body) {
  const std::string_view media = common::trim(content_type.substr(0, content_type.find(';')));
  if (media == "application/json") return LogBatchFormat::kJsonArray;
  if (media == "application/x-ndjson" || media == "application/jsonlines" ||
      media == "application/x-jsonlines" || media == "application/json-lines") {
    return LogBatchFormat::kJsonLines;
  }
  const std::string_view text = common::trim(body);
  if (text.starts_with('{')) return LogBatchFormat::kJsonLines;
  // An empty body, or one without a type, gets the parser's more precise 400.
  if (text.starts_with('[') || text.empty() || media.empty()) return LogBatchFormat::kJsonArray;
  return absl::UnimplementedError(common::concat(
      "unsupported Content-Type '", content_type,
      "' for a body that is neither a JSON array nor JSON lines (use application/json for an "
      "array, application/x-ndjson for lines)"));
}

}  // namespace tp::ingest
