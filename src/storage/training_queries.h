#pragma once
// Reads training runs and their performance rows back, for the runs and training-metrics APIs.
// Everything comes from the database all replicas write, so any replica answers the same. Each
// call reads a bounded amount: a page of runs with a few indexed lookups per run, performance
// rows in pages of kPerformancePageRows (the client libraries hold a whole result in memory).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/database.h"

namespace tp::storage {

// A run's state, the first that holds: ended (its EndTrain event), superseded (a later run of
// its workload started), gone (its workload is no longer Running in gpu_workload), stalled (a
// TrainingStalled event without a TrainingResumed of the same occurrence), else running.
enum class RunState { kRunning, kStalled, kEnded, kSuperseded, kGone };
inline constexpr RunState kRunStates[] = {RunState::kRunning, RunState::kStalled, RunState::kEnded,
                                          RunState::kSuperseded, RunState::kGone};
// "running", "stalled", ...
std::string_view nameOf(RunState state);
std::optional<RunState> runStateNamed(std::string_view name);

// A run: a StartTrain event's (workload_uid, run_serial).
struct RunKey {
  std::string workload_uid;
  int serial = 0;
};

struct RunQuery {
  std::optional<std::string> workload_uid;
  std::optional<RunState> state;
  // Runs whose workload name holds this text, in any case (ASCII).
  std::optional<std::string> name_contains;
  std::optional<RunKey> after;  // the page starts after this run
  size_t limit = 100;
};

struct CheckpointSummary {
  int64_t count = 0;  // completed saves
  std::optional<int64_t> last_iteration;
  std::optional<int64_t> last_duration_ms;
};

inline constexpr size_t kMaxRunPods = 32;
// The newest rows of a run whose pods are listed: a run has one row per iteration.
inline constexpr size_t kRunPodRows = 1000;

struct RunSummary {
  std::string workload_uid;
  std::string workload_name;  // from gpu_workload; empty when it has no row
  int serial = 0;
  std::string nearest_workload_uid;
  // Pods of its events, its checkpoints and its newest kRunPodRows rows; at most kMaxRunPods.
  std::vector<std::string> pods;
  int64_t started_us = 0;  // its StartTrain event
  std::optional<int64_t> last_iteration;
  std::optional<int64_t> last_iteration_us;
  std::optional<int64_t> target_iterations;  // the last row's "target_iteration"
  RunState state = RunState::kRunning;
  // When the state began: the EndTrain event, the next run's start, the workload's end (the
  // start when gpu_workload has no time for it), the stall (its event's time), the last
  // resumption (its event's time), else the start.
  int64_t since_us = 0;
  CheckpointSummary checkpoints;
};

struct RunPage {
  std::vector<RunSummary> runs;  // ordered by (workload_uid, serial)
  bool more = false;             // runs beyond the page exist
};

absl::StatusOr<RunPage> listRuns(Database& database, const RunQuery& query);

inline constexpr size_t kPerformancePageRows = 1000;

struct PerformanceQuery {
  std::string workload_uid;
  std::optional<int> serial;
  std::optional<int64_t> from_us;  // created_at at or after
  std::optional<int64_t> to_us;    // created_at at or before
  // Continue after this (serial, iteration).
  std::optional<std::pair<int, int64_t>> after;
};

struct PerformanceRecord {
  int serial = 0;
  int64_t iteration = 0;
  int64_t time_us = 0;
  std::string_view performance_json;
};

// Calls `on_row` for the matching training_performance rows in (serial, iteration) order, until
// it returns false.
absl::Status readPerformance(Database& database, const PerformanceQuery& query,
                             const std::function<bool(const PerformanceRecord&)>& on_row);

}  // namespace tp::storage
