#pragma once
// How a remote-write body is to be read, from its request headers: the message version from
// Content-Type, the compression from Content-Encoding. A value the processor cannot read is
// Unimplemented (-> 415), naming the value and what is accepted.

#include <string_view>

#include "absl/status/statusor.h"
#include "ingest/remote_write/decompress.h"
#include "ingest/remote_write/write_request.h"

namespace tp::ingest {

// No type, or application/x-protobuf without proto= or with proto=prometheus.WriteRequest: 1.0;
// proto=io.prometheus.write.v2.Request: 2.0.
absl::StatusOr<RemoteWriteVersion> parseRemoteWriteContentType(std::string_view header);

// snappy, zstd, or none (empty, identity).
absl::StatusOr<BodyEncoding> parseContentEncoding(std::string_view header);

}  // namespace tp::ingest
