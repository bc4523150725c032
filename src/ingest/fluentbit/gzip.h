#pragma once
// gzip (and zlib) inflation of request bodies with the output cut at a cap: a gzip stream does
// not reliably declare its size (ISIZE is modulo 2^32 and comes last), so the cap is enforced
// while inflating, and a 10 MiB bomb stops at cap + one step instead of growing to 10 GiB.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tp::ingest {

// Inflates `body` into `out` (reused across calls) and returns the decoded size. `out` keeps
// `tail_room` writable bytes after the data, for parsers that need padding. Errors:
// InvalidArgument (-> 400) for corrupt or truncated data, ResourceExhausted (-> 413) when the
// output would exceed `max_decoded_bytes`.
absl::StatusOr<size_t> inflateGzip(std::string_view body, size_t max_decoded_bytes,
                                   size_t tail_room, std::string& out);

}  // namespace tp::ingest
