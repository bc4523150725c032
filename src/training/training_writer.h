#pragma once
// Takes the StartTrain events, performance rows and lifecycle events (checkpoints, EndTrain) the
// logs path produces and writes them to the database off the request thread. A request's items are
// first appended to the row journal (a queue::DiskQueue under queue.dir), so they survive kill -9
// and a database outage of any length the disk allows; submit() returns only then, and the request
// is answered after it. The writer thread reads the journal in order, assigns serials (RunSerials),
// writes batches in insert-if-absent statements (so a batch replayed after a crash is harmless),
// retries failures with backoff, and moves the journal's cursor past what is written. With a series
// sink, a batch's training series (training_series.h) are encoded once its serials are decided and
// handed to the forwarder before the cursor moves: the journal is the samples' queue until then,
// so a /logs batch answered 2xx has its samples queued, and a replay sends the same samples. A row
// the database refuses for its values (an iteration beyond the column, a date it cannot store) is
// set aside in a dead-letter file (JSON lines, with the database's reason) and counted, so it
// cannot hold up the rows behind it. The rows waiting are bounded (training.bufferRows, and the
// journal's disk cap); a request whose items do not fit is refused whole, so nothing is
// acknowledged and then dropped.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/log_throttle.h"
#include "config/config.h"
#include "forward/forwarder.h"
#include "prompb/wire.h"
#include "queue/disk_queue.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"
#include "training/run_serials.h"
#include "training/training_items.h"
#include "training/training_series.h"

namespace tp::training {

// Where the training series go; no sink: none are made.
struct SeriesOutput {
  forward::BatchSink* sink = nullptr;
  telemetry::TrainingSeriesMetrics metrics{};
};

class TrainingWriter {
 public:
  // Opens (or resumes) the row journal in `journal.dir`; refused rows go to `dead_letter_file`.
  static absl::StatusOr<std::unique_ptr<TrainingWriter>> create(
      storage::Database& database, const config::TrainingConfig& config,
      const queue::DiskQueueOptions& journal, std::filesystem::path dead_letter_file,
      telemetry::TrainingWriteMetrics metrics, SeriesOutput series = {},
      const common::Clock& clock = common::systemClock());
  ~TrainingWriter();

  void start();
  // Writes what it can until `grace` is over; the rest stays in the journal for the next start.
  void stop(std::chrono::milliseconds grace);

  // All or nothing: ResourceExhausted when the rows waiting leave no room for every item, another
  // error when the journal cannot be written; OK once the items are in the journal.
  absl::Status submit(const TrainingItems& items);

  // Rows and events not yet written to the database.
  size_t pending() const;

 private:
  TrainingWriter(storage::Database& database, const config::TrainingConfig& config,
                 std::unique_ptr<queue::DiskQueue> journal, std::filesystem::path dead_letter_file,
                 telemetry::TrainingWriteMetrics metrics, SeriesOutput series,
                 const common::Clock& clock);
  void run();
  // Adds whole journal records after the batch's last one until it holds batch_rows items.
  void readJournal(TrainingItems& batch, std::vector<queue::QueuePosition>& records,
                   uint64_t& journal_items);
  // Writes one batch; on error nothing of it counts as written and it is tried again (every
  // statement is idempotent, so a partial success is harmless).
  absl::Status write(const TrainingItems& batch);
  absl::Status loadWorkloads(const TrainingItems& batch);
  // Replaces what is known of these workloads' runs with what the database holds.
  absl::Status reloadRuns(const absl::flat_hash_set<std::string_view>& workloads);
  absl::Status writeStarts(const std::vector<PendingStart>& starts);
  // Adds the rows written (or already stored) with their serials to `written`.
  absl::Status writePerformances(const std::vector<PendingPerformance>& performances,
                                 std::vector<RowOfRun>& written);
  absl::Status writeEnds(const std::vector<PendingLifecycle>& lifecycles);
  // Adds the saves completed, with their durations, to `saves`.
  absl::Status writeCheckpoints(const std::vector<PendingLifecycle>& lifecycles,
                                std::vector<SaveOfRun>& saves);
  // Encodes the batch's series and hands them to the sink; an error leaves the batch for retry.
  absl::Status sendSeries(std::span<const RowOfRun> rows, std::span<const SaveOfRun> saves);
  // Appends a refused row to the dead-letter file, counts it, and logs it (throttled).
  void setAside(std::string_view table, const std::string& row_json, const absl::Status& reason,
                prometheus::Counter* rejected);

  storage::Database& database_;
  config::TrainingConfig config_;
  const std::unique_ptr<queue::DiskQueue> journal_;
  const std::filesystem::path dead_letter_file_;
  telemetry::TrainingWriteMetrics metrics_;
  const common::Clock& clock_;
  RunSerials serials_;  // writer thread only
  forward::BatchSink* const series_sink_;
  std::unique_ptr<TrainingSeriesEncoder> series_;  // with a sink; writer thread only
  std::vector<prompb::OutputBuffer> series_lanes_;
  std::vector<size_t> series_lane_samples_;
  size_t completed_in_batch_ = 0;  // checkpoint operations ended by the batch being written
  common::LogThrottle refused_log_{std::chrono::seconds(10), clock_};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Items of accepted requests, counted before their journal write; guarded by mutex_.
  uint64_t reserved_ = 0;
  uint64_t journaled_ = 0;  // in the journal, not yet written to the database; guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  common::Clock::TimePoint deadline_;  // of stop(); guarded by mutex_
  std::thread thread_;
};

}  // namespace tp::training
