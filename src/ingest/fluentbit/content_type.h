#pragma once
// How a Fluent Bit batch is to be read, from its request headers: the compression from
// Content-Encoding, then (once decoded) the layout from Content-Type and the body itself. A value
// the processor cannot read is Unimplemented (-> 415), naming the value and what is accepted.

#include <string_view>

#include "absl/status/statusor.h"
#include "ingest/fluentbit/log_batch.h"

namespace tp::ingest {

enum class LogEncoding { kIdentity, kGzip };

// gzip, x-gzip or deflate (the inflater reads gzip and zlib framing), or none (empty, identity).
absl::StatusOr<LogEncoding> parseLogEncoding(std::string_view header);

// The format of a (decoded) body. application/json -> array; application/x-ndjson and the other
// json-lines names -> lines. Any other type, or none, is decided by the first non-space byte,
// '[' array, '{' lines, as the reference accepted any type (curl -d sends
// application/x-www-form-urlencoded; some clients text/plain). Any other body: Unimplemented
// naming the type or, without a type, an array for the parser to refuse (400).
absl::StatusOr<LogBatchFormat> selectLogBatchFormat(std::string_view content_type,
                                                    std::string_view body);

}  // namespace tp::ingest
