#pragma once
// Writes what the logs path produces — StartTrain workload events and training_performance
// rows — as multi-row, insert-if-absent statements: the unique keys (workload, nearest workload,
// type) and (workload, serial, iteration) make a replayed or concurrent write a no-op, so many
// ranks, retries and several processor replicas all end in exactly one row.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/database.h"

namespace tp::storage {

inline constexpr std::string_view kStartTrainEventType = "StartTrain";

struct StartTrainEvent {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  int run_serial = 0;
  int64_t time_us = 0;  // log time
};

struct PerformanceRow {
  std::string workload_uid;
  std::string pod_uid;
  std::string performance_json;
  int64_t iteration = 0;
  int serial = 0;
  int64_t time_us = 0;  // log time
};

struct RunRecord {
  std::string nearest_workload_uid;
  int run_serial = 0;
};

// The StartTrain events recorded for a workload: its runs.
absl::StatusOr<std::vector<RunRecord>> loadRuns(Database& database, std::string_view workload_uid);

// Each returns the number of rows actually inserted (rows already present are skipped).
absl::StatusOr<size_t> insertStartTrainEvents(Database& database,
                                              std::span<const StartTrainEvent> events);
absl::StatusOr<size_t> insertPerformanceRows(Database& database,
                                             std::span<const PerformanceRow> rows);

// "2025-10-23 12:39:12.123456" (UTC) as the backend's timestamp column takes it.
std::string formatTimestamp(Driver driver, int64_t time_us);

}  // namespace tp::storage
