#pragma once
// Parses a Fluent Bit batch (SPEC §5): a JSON array of records (`format json`) or one record per
// line (`format json_lines`), with simdjson's on-demand API. Records are handed to a sink one by
// one as views into the parser's buffers, valid for the duration of the call; nothing is
// allocated per record.
//
// A syntax error anywhere fails the whole batch (the caller commits nothing); a record that is
// well-formed JSON but unusable (no date, wrong types) is skipped with a reason and the rest of
// the batch goes on.

#include <array>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace tp::ingest {

enum class LogBatchFormat { kJsonArray, kJsonLines };

// Padding the parser needs readable after the body (simdjson reads in 64-byte blocks).
inline constexpr size_t kLogBatchPadding = 64;

struct LogBatchLimits {
  size_t max_depth = 64;               // nesting of objects/arrays; deeper: 400
  size_t max_string_bytes = 1u << 20;  // one string value; longer: 413
};

struct LogRecord {
  int64_t time_us = 0;       // `date`, exact to the microsecond
  std::string_view message;  // `message`, or `log` when `message` is empty
  bool has_kubernetes = false;
  std::string_view pod_name;
  std::string_view pod_uid;  // kubernetes.pod_id
  std::string_view namespace_name;
  std::string_view host;
  std::string_view container_name;
};

enum class SkipReason : uint8_t { kInvalidDate = 0, kWrongType, kNotAnObject, kCount };
inline constexpr std::array<std::string_view, static_cast<size_t>(SkipReason::kCount)>
    kSkipReasonNames = {"invalid_date", "wrong_type", "not_an_object"};

class LogRecordSink {
 public:
  virtual ~LogRecordSink() = default;
  virtual void onRecord(const LogRecord& record) = 0;
  virtual void onSkipped(size_t index, SkipReason reason) = 0;
};

// Parses `body`, which must be followed by kLogBatchPadding readable bytes. Errors:
// InvalidArgument (-> 400) naming the byte offset (and line, for json_lines) of the problem,
// ResourceExhausted (-> 413) for a string over the limit. Records seen before an error have
// already reached the sink; the caller discards them. A body cut short is reported at its end.
absl::Status parseLogBatch(std::string_view body, LogBatchFormat format,
                           const LogBatchLimits& limits, LogRecordSink& sink);

// The per-thread parser grows to the largest document it has read, with about 6 bytes of buffers
// per byte of capacity. Above this capacity parseLogBatch frees it afterwards, so that one huge
// body does not pin hundreds of MiB in every I/O thread; Fluent Bit's batches (chunks of about
// 2 MiB) stay below and reuse it.
inline constexpr size_t kLogParserKeepCapacity = 4u << 20;

// Capacity in bytes of this thread's parser, 0 before its first batch or after a release.
size_t logParserCapacity();

// Parses a `date` token: a JSON number of seconds since the epoch (fraction to the microsecond,
// digits beyond ignored) or an ISO 8601 UTC string ("2025-10-23T12:39:12.123456Z"), within the
// years 1970 to 9999 that every backend's timestamp column holds.
bool parseLogTime(std::string_view token, bool is_string, int64_t* time_us);

}  // namespace tp::ingest
