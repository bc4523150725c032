#pragma once
// The training-health detector (docs/TRAINING.md, "Training health"). Every
// training.stall.checkInterval it reads each run the database knows (training/health_rules.h
// decides), records stalls, resumptions and anomalies as insert-if-absent workload_event rows,
// and sends the alerting and goodput series. Every replica checks every run: the database
// decides what is recorded, so each occurrence is one row however many replicas find it, and a
// replica's memory only spares it re-reading what it has judged. The replica holding the
// database lease "training-health-series" sends the per-run and per-workload series, at
// timestamps on the check-interval grid; the replica whose insert recorded an event sends its
// `workload_training_event` sample.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/log_throttle.h"
#include "config/config.h"
#include "forward/forwarder.h"
#include "prompb/series.h"
#include "prompb/wire.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"
#include "training/health_rules.h"

namespace tp::training {

inline constexpr std::string_view kHealthSeriesLease = "training-health-series";
// Runs one check looks at; more are counted (training_health_runs_not_checked_total).
inline constexpr size_t kMaxCheckedRuns = 10'000;
// An ended, superseded or gone run is still checked (and its state sent) this long.
inline constexpr std::chrono::hours kEndedRunsChecked{1};
// Each check re-reads this many of a running run's newest rows (a row another replica writes
// late among them still counts); the rest it remembers.
inline constexpr size_t kRereadRows = 64;
// Rows older than this (log time) are folded into a workload's goodput for good; newer ones are
// folded afresh each check, so a row another replica writes late still counts.
inline constexpr std::chrono::minutes kGoodputSettle{5};

// A workload's goodput from all its rows, runs, saves and health events: what the goodput API
// answers. nullopt when the workload has no run.
absl::StatusOr<std::optional<Goodput>> workloadGoodput(storage::Database& database,
                                                       const std::string& workload_uid,
                                                       int64_t now_us);

class HealthMonitor {
 public:
  // `sink` (may be null: no series) is where the series go; `replica` names this replica in the
  // lease.
  HealthMonitor(storage::Database& database, const config::TrainingConfig& config,
                forward::BatchSink* sink, std::string replica,
                telemetry::TrainingHealthMetrics metrics,
                const common::Clock& clock = common::systemClock());
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Checks every check interval on its own thread, from now on.
  void start();
  void stop();

  // One check of every run: what the thread does each interval.
  absl::Status check();

  // New stall and anomaly thresholds (a configuration reload), taken at the start of the next
  // check; the wait before it keeps the old check interval.
  void setThresholds(const config::TrainingStallConfig& stall,
                     const config::TrainingAnomalyConfig& anomaly);

 private:
  struct RunMemory {
    std::vector<RowFigures> rows;  // the run's newest, at most kRowsPerCheck
    bool from_run_start = false;   // rows begins with the run's first row
  };
  struct WorkloadGoodput {
    GoodputCalculator settled;  // rows up to `cursor`
    std::optional<std::pair<int, int64_t>> cursor;
  };
  // What one check sends: samples by lane.
  struct Outgoing {
    std::vector<prompb::OutputBuffer> lanes;
    std::vector<size_t> samples;
  };

  void run();
  // Brings memory.rows up to date: all newest rows the first time, then the newest kRereadRows.
  // Returns the earliest iteration among them not seen before; nullopt when all were.
  absl::StatusOr<std::optional<int64_t>> readRows(const storage::RunKey& key, RunMemory& memory);
  // Judges one run (for stalls only when `running`: running or stalled): adds what it found to
  // `found`, and its last progress (its last row's time, or a checkpoint's end after it while it
  // runs) to `last_progress_us`.
  absl::Status checkRun(const storage::HealthRun& run, bool running,
                        const std::vector<storage::HealthEvent>& recorded, int64_t now_us,
                        std::vector<storage::HealthEvent>& found,
                        std::optional<int64_t>& last_progress_us);
  // Inserts what a workload's check found; counts, logs and marks in the series what this replica
  // recorded first.
  absl::Status record(const std::vector<storage::HealthEvent>& found,
                      std::span<const storage::HealthRun> runs, Outgoing& out);
  absl::StatusOr<Goodput> goodputOf(const std::string& workload_uid,
                                    const std::vector<storage::HealthEvent>& recorded,
                                    int64_t now_us);
  void addSeries(Outgoing& out, std::string_view name, std::span<const prompb::LabelPair> labels,
                 int64_t timestamp_ms, double value);
  void submit(Outgoing& out);

  storage::Database& database_;
  // Written by check() only, from next_thresholds_, so that one check sees one set.
  config::TrainingStallConfig stall_;
  config::TrainingAnomalyConfig anomaly_;
  forward::BatchSink* const sink_;
  const std::string replica_;
  const telemetry::TrainingHealthMetrics metrics_;
  const common::Clock& clock_;

  // Used by check() only (one check at a time: the thread, or a test).
  absl::flat_hash_map<std::string, RunMemory> runs_;  // by "workload_uid/serial"
  absl::flat_hash_map<std::string, WorkloadGoodput> goodput_;
  prompb::OutputBuffer label_scratch_;
  RowReader reader_;
  common::LogThrottle failure_log_{std::chrono::minutes(5), clock_};
  common::LogThrottle refused_log_{std::chrono::minutes(5), clock_};

  std::mutex thresholds_mutex_;
  std::optional<std::pair<config::TrainingStallConfig, config::TrainingAnomalyConfig>>
      next_thresholds_;

  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::atomic<bool> stopping_{false};  // set under mutex_, so that a waiter sees it
  std::thread thread_;
};

}  // namespace tp::training
