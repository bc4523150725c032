#pragma once
// The training-health rules (docs/TRAINING.md, "Training health"), as pure functions of what the
// database holds: a run's newest rows, its recorded events, its checkpoint operations, and the
// time. Every replica that applies them to the same rows finds the same events with the same keys,
// so the insert-if-absent write records each once. The detector (training/health_monitor.h)
// reads and writes; nothing here touches the database or the clock.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "simdjson.h"
#include "storage/training_health.h"
#include "storage/training_queries.h"

namespace tp::training {

// The figures of a training_performance row the rules read.
struct RowFigures {
  int64_t iteration = 0;
  int64_t time_us = 0;
  std::string pod_uid;
  std::optional<double> loss;  // lm_loss; may be NaN or infinite
  // The throughput rules take tflops when the run's rows have it, else tokens_per_gpu.
  std::optional<double> tflops;
  std::optional<double> tokens_per_gpu;
  std::optional<double> step_ms;  // elapsed_time_per_iteration_ms
  double nan_iterations = 0;      // nan_iterations_number (per logging interval)
  double skipped_iterations = 0;  // skipped_iterations_number
};

// Reads rows' figures, reusing one parser's buffers.
class RowReader {
 public:
  RowFigures read(const storage::ProgressRow& row);
  RowFigures read(int64_t iteration, int64_t time_us, std::string_view performance_json);

 private:
  simdjson::dom::parser parser_;
};

// How many of a run's newest rows the detector reads per check: the rules look back at most this
// far (the throughput baseline, the loss window).
inline constexpr size_t kRowsPerCheck = 512;
// The throughput baseline: the median of at most this many logged iterations before a drop.
inline constexpr size_t kThroughputBaselineRows = 100;

struct StallVerdict {
  int64_t last_iteration = 0;
  int64_t last_progress_us = 0;    // the last row's log time
  int64_t median_interval_us = 0;  // between the run's logged iterations
  int64_t threshold_us = 0;        // max(factor × median interval, minimum)
  // When the wait ran past the threshold (or past the checkpoint grace): the event's time, the
  // same for every replica that finds the stall.
  int64_t stalled_at_us = 0;
  bool checkpoint_in_progress = false;
};

// Whether a running run (not ended, superseded or gone) has stalled by `now_us`: no progress
// (a row, or the end of a checkpoint save or load after it) for longer than the threshold, with no
// save or load in progress since the last row, or one that has run past the grace. nullopt when
// not stalled, or when the run has fewer than two rows (no interval to judge by).
std::optional<StallVerdict> findStall(const config::TrainingStallConfig& config,
                                      std::span<const RowFigures> rows,
                                      const storage::CheckpointActivity& checkpoints,
                                      int64_t now_us);

// The state of a run, from what the database says of it (`run`) and its recorded events.
storage::RunState stateOf(const storage::HealthRun& run,
                          std::span<const storage::HealthEvent> recorded);

// The stall events due for a run: TrainingStalled when `verdict` names a last iteration with no
// stall recorded, and TrainingResumed for each recorded stall without one whose iteration the
// rows have now passed (its time: the first row after it).
std::vector<storage::HealthEvent> stallEvents(const storage::HealthRun& run,
                                              const std::optional<StallVerdict>& verdict,
                                              std::span<const RowFigures> rows,
                                              std::span<const storage::HealthEvent> recorded,
                                              int64_t now_us);

// The anomaly events (NanIterations, SkippedIterations, LossSpike, ThroughputDrop,
// ThroughputRecovered) among rows[first..]: each rule needs the rows before the one it judges,
// so a row is judged only with its full window before it, or when `rows` starts at the run's
// first row. Each occurrence is keyed by the first iteration of its stretch in the rows (a
// recovery by its drop's); a stretch with an event of its type recorded at any of its iterations
// (judged before its first rows were written) is not found again.
std::vector<storage::HealthEvent> findAnomalies(const config::TrainingAnomalyConfig& config,
                                                const storage::RunKey& run,
                                                std::span<const RowFigures> rows, size_t first,
                                                bool from_run_start,
                                                std::span<const storage::HealthEvent> recorded);

// IterationRewind: the run's first row is at or below the previous run's last iteration, so the
// iterations from there up to it are done again. One per run: keyed by the previous run's serial,
// so a replica that judged the run before its first rows were written records no second one.
// nullopt otherwise.
std::optional<storage::HealthEvent> findRewind(const storage::RunKey& run,
                                               const RowFigures& first_row, int previous_serial,
                                               int64_t previous_last_iteration);

// Where a health event happened: its detail's iteration, else its occurrence. The occurrence is
// its key: a resumption or a recovery is keyed by what it ends, a rewind by the previous run.
int64_t eventIteration(const storage::HealthEvent& event);

// A workload's goodput (docs/TRAINING.md defines every figure with a worked example).
struct Goodput {
  int64_t start_us = 0;  // the first run's start
  int64_t end_us = 0;    // the last progress or end
  double wall_seconds = 0;
  double productive_seconds = 0;
  double restarts_seconds = 0;
  double redone_seconds = 0;
  double stalls_seconds = 0;
  double checkpoints_seconds = 0;
  double other_seconds = 0;  // wall time none of the above explains (start-up, evaluation, ...)
  double ratio = 0;          // productive / wall
  int64_t counted_iterations = 0;
  int64_t redone_iterations = 0;
  int runs = 0;
};

// Folds a workload's rows, in (serial, iteration) order, into its goodput. Copyable: the detector
// keeps one folded up to the rows that have settled and folds the newest into a copy.
class GoodputCalculator {
 public:
  // `recorded`: the workload's health events, for the row that ends a stall.
  void add(int serial, int64_t iteration, int64_t time_us, std::optional<double> step_ms,
           std::span<const storage::HealthEvent> recorded);
  // `runs` are the workload's runs (ordered by serial), `saves` its completed saves, `recorded`
  // its health events; `now_us` ends a stall that still holds.
  Goodput finish(std::span<const storage::RunPhase> runs,
                 std::span<const storage::CompletedSave> saves,
                 std::span<const storage::HealthEvent> recorded, int64_t now_us) const;

 private:
  struct RunRows {
    int serial = 0;
    int64_t frontier = 0;  // the highest iteration of the runs before it
    int64_t first_iteration = 0;
    int64_t first_time_us = 0;
    std::optional<double> first_step_ms;
    int64_t second_delta = 0;  // iterations the second row covers; 0 without one
    int64_t last_iteration = 0;
    int64_t last_time_us = 0;
    // Of the rows after the first:
    double productive_seconds = 0;
    double redone_seconds = 0;
    double resumed_stall_seconds = 0;
    int64_t counted_iterations = 0;
    int64_t redone_iterations = 0;
  };
  std::vector<RunRows> runs_;
  int64_t frontier_ = 0;
};

}  // namespace tp::training
