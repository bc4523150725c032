#pragma once
// Decompression of request bodies with the decoded size checked against a cap before anything
// is allocated: the snappy preamble and the zstd frame header declare the size up front; a
// zstd frame that does not is inflated in steps and cut at the cap.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tp::ingest {

enum class BodyEncoding { kIdentity, kSnappy, kZstd };

// Returns a view of the decoded bytes: `body` itself for identity, else `scratch` (reused across
// calls). Errors: InvalidArgument (-> 400) for corrupt data, ResourceExhausted (-> 413) when the
// decoded size exceeds `max_decoded_bytes`.
absl::StatusOr<std::string_view> decompressBody(std::string_view body, BodyEncoding encoding,
                                                size_t max_decoded_bytes, std::string& scratch);

}  // namespace tp::ingest
