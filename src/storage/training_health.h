#pragma once
// What training-health detection reads and writes (docs/TRAINING.md, "Training health"). Every
// replica's detector reads the same rows (the runs' StartTrain/EndTrain events, their newest
// training_performance rows, their checkpoint operations, gpu_workload's status) and writes its
// findings as insert-if-absent workload_event rows, so several replicas record each occurrence
// once. A health event is keyed by (workload_uid, run_serial, type, occurrence): the occurrence
// is the iteration that names it (the last iteration before a stall, the first of a NaN
// stretch). Its nearest_workload_uid is NULL, which the older key (workload_uid,
// nearest_workload_uid, type) of StartTrain and EndTrain ignores; the leaf workload is in
// `detail`.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/database.h"
#include "storage/training_queries.h"

namespace tp::storage {

enum class HealthEventType {
  kTrainingStalled,
  kTrainingResumed,
  kNanIterations,
  kSkippedIterations,
  kLossSpike,
  kThroughputDrop,
  kThroughputRecovered,
  kIterationRewind,
};
inline constexpr HealthEventType kHealthEventTypes[] = {
    HealthEventType::kTrainingStalled,     HealthEventType::kTrainingResumed,
    HealthEventType::kNanIterations,       HealthEventType::kSkippedIterations,
    HealthEventType::kLossSpike,           HealthEventType::kThroughputDrop,
    HealthEventType::kThroughputRecovered, HealthEventType::kIterationRewind,
};
// "TrainingStalled", ...: workload_event.type.
std::string_view nameOf(HealthEventType type);
std::optional<HealthEventType> healthEventTypeNamed(std::string_view name);

struct HealthEvent {
  std::string workload_uid;
  int run_serial = 0;
  HealthEventType type = HealthEventType::kTrainingStalled;
  int64_t occurrence = 0;   // its key: the iteration that names it (a rewind: the previous run)
  int64_t time_us = 0;      // created_at: when it happened (see docs/TRAINING.md per type)
  std::string pod_uid;      // may be empty
  std::string detail_json;  // an object: iteration, value, baseline, ... per type
};

// Inserts each event unless its (workload, serial, type, occurrence) is recorded; returns, per
// event, whether this call inserted it (so that exactly one replica reports each). All or none:
// after an error nothing was written, so a later call reports each event as this one would have.
absl::StatusOr<std::vector<bool>> insertHealthEvents(Database& database,
                                                     std::span<const HealthEvent> events);

// A workload's health events (all its runs, or one), ordered by (created_at, id).
absl::StatusOr<std::vector<HealthEvent>> readHealthEvents(Database& database,
                                                          std::string_view workload_uid,
                                                          std::optional<int> run_serial = {});

// A run as the detector sees it: what ended it, if anything, and whether its workload still runs.
struct HealthRun {
  RunKey key;
  std::string nearest_workload_uid;
  std::string workload_name;             // gpu_workload.name of workload_uid; empty without a row
  std::string namespace_name;            // gpu_workload.namespace
  int64_t started_us = 0;                // its StartTrain event
  std::optional<int64_t> ended_us;       // its EndTrain event
  std::optional<int64_t> superseded_us;  // the next run's StartTrain
  // The run's workload (its nearest workload's gpu_workload row, else workload_uid's) has a
  // status other than Running: since its end_at, else deleted_at, else updated_at (0: none set).
  std::optional<int64_t> gone_us;
};

// Every run that is neither ended, superseded nor gone, and those that ended, were superseded or
// went at or after `changed_since_us` (a run gone without a time counts as gone long ago); ordered
// by (workload_uid, serial), at most `limit` + 1 (more than `limit`: the caller knows there were
// more).
absl::StatusOr<std::vector<HealthRun>> listHealthRuns(Database& database, int64_t changed_since_us,
                                                      size_t limit);

// A run's state and when it began, and its start: what a workload's goodput needs of each run.
struct RunPhase {
  int serial = 0;
  int64_t started_us = 0;
  RunState state = RunState::kRunning;
  int64_t since_us = 0;  // as RunSummary::since_us
};
// The workload's runs, by serial.
absl::StatusOr<std::vector<RunPhase>> listRunPhases(Database& database,
                                                    std::string_view workload_uid);

struct ProgressRow {
  int64_t iteration = 0;
  int64_t time_us = 0;  // log time (created_at)
  std::string pod_uid;
  std::string performance_json;
};

// The run's newest `limit` training_performance rows, in ascending iteration order.
absl::StatusOr<std::vector<ProgressRow>> readNewestRows(Database& database, const RunKey& run,
                                                        size_t limit);

// The highest iteration of the run's rows; nullopt without rows.
absl::StatusOr<std::optional<int64_t>> lastIteration(Database& database, const RunKey& run);

// How many of the run's rows have an iteration (those readNewestRows reads).
absl::StatusOr<int64_t> countIterations(Database& database, const RunKey& run);

// How many training_performance rows a run has, and its lowest and highest iteration.
struct RunExtent {
  int64_t rows = 0;
  std::optional<int64_t> first_iteration;
  std::optional<int64_t> last_iteration;
};
absl::StatusOr<RunExtent> runExtent(Database& database, const RunKey& run);

// What the run's checkpoint_event rows say of its checkpoints now: the latest start of a save or
// load still in_progress (one whose end was never logged stays so for good, hence the latest),
// and the latest end of one that completed. Either nullopt when there is none.
struct CheckpointActivity {
  std::optional<int64_t> in_progress_since_us;
  std::optional<int64_t> last_end_us;
};
absl::StatusOr<CheckpointActivity> checkpointActivity(Database& database, const RunKey& run);

struct CompletedSave {
  int serial = 0;
  int64_t iteration = 0;
  int64_t end_us = 0;
  int64_t duration_ms = 0;
};
// A workload's completed saves with a known duration (end_saving, success), by end time.
absl::StatusOr<std::vector<CompletedSave>> readCompletedSaves(Database& database,
                                                              std::string_view workload_uid);

// Makes `holder` the holder of lease `name` until `now_us` + `ttl_us` when it is free, expired or
// already held by `holder`; returns whether `holder` holds it. One row per lease in
// tp_leases, shared by the replicas: the one that holds it does the work the lease names.
absl::StatusOr<bool> holdLease(Database& database, std::string_view name, std::string_view holder,
                               int64_t now_us, int64_t ttl_us);

}  // namespace tp::storage
