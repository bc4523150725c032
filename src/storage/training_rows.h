#pragma once
// Writes what the logs path produces — StartTrain and EndTrain workload events,
// training_performance rows and checkpoint_event operations — as insert-if-absent statements:
// the unique keys (workload, nearest workload, type), (workload, serial, iteration) and
// (workload, serial, iteration, event_type) make a replayed or concurrent write a no-op, so many
// ranks, retries and several processor replicas all end in exactly one row.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/database.h"

namespace tp::storage {

inline constexpr std::string_view kStartTrainEventType = "StartTrain";
inline constexpr std::string_view kEndTrainEventType = "EndTrain";

struct RunEvent {
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

enum class CheckpointOperation { kSave, kLoad };

// A checkpoint line: the start or the end of a save or a load.
struct CheckpointLine {
  std::string workload_uid;
  std::string pod_uid;
  int serial = 0;
  int64_t iteration = 0;  // 0 when the line names none
  std::string path;
  CheckpointOperation operation = CheckpointOperation::kSave;
  int64_t time_us = 0;                 // log time
  std::optional<int64_t> duration_ms;  // as printed on an end line
};

struct RunRecord {
  std::string nearest_workload_uid;
  int run_serial = 0;
};

// The highest iteration of a run's training_performance rows logged at or before `time_us`;
// nullopt when there is none.
absl::StatusOr<std::optional<int64_t>> lastIterationBefore(Database& database,
                                                           std::string_view workload_uid,
                                                           int serial, int64_t time_us);

// The iteration of the run's latest save or load still in progress that started at or before
// `time_us`: the operation an end line that names no iteration completes. nullopt when none.
absl::StatusOr<std::optional<int64_t>> openOperationIteration(Database& database,
                                                              std::string_view workload_uid,
                                                              int serial,
                                                              CheckpointOperation operation,
                                                              int64_t time_us);

// The StartTrain events recorded for a workload: its runs.
absl::StatusOr<std::vector<RunRecord>> loadRuns(Database& database, std::string_view workload_uid);

// Each returns the number of rows actually inserted (rows already present are skipped).
absl::StatusOr<size_t> insertStartTrainEvents(Database& database, std::span<const RunEvent> events);
absl::StatusOr<size_t> insertPerformanceRows(Database& database,
                                             std::span<const PerformanceRow> rows);
// EndTrain events, one per (workload, nearest workload): the run's end.
absl::StatusOr<size_t> insertEndTrainEvents(Database& database, std::span<const RunEvent> events);

// One checkpoint_event row per operation, keyed by (workload, serial, iteration, event_type). A
// start creates it `in_progress` (a save as start_saving, a load as loading) unless the operation
// is recorded; returns the rows created.
absl::StatusOr<size_t> insertCheckpointStarts(Database& database,
                                              std::span<const CheckpointLine> starts);
// An end completes its operation's row: status success, end time and duration (a save becomes
// end_saving); when its start was never recorded the row is created complete. Returns, per end,
// the duration in ms: as printed, else end minus the recorded start; nullopt when neither is known.
// It is the duration the stored row holds, so a replay or another rank's copy of the line gets
// the same answer.
absl::StatusOr<std::vector<std::optional<int64_t>>> completeCheckpoints(
    Database& database, std::span<const CheckpointLine> ends);

// "2025-10-23 12:39:12.123456" (UTC) as the backend's timestamp column takes it.
std::string formatTimestamp(Driver driver, int64_t time_us);

}  // namespace tp::storage
