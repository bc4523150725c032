#pragma once
// Takes the StartTrain events and performance rows the logs path produces, off the request
// thread, and writes them to the database in batches: serials are assigned here (RunSerials),
// statements are insert-if-absent, and a failed write is retried with backoff while the items
// stay buffered. The buffer is bounded (training.bufferRows); a request whose items do not fit
// is refused whole, so nothing is acknowledged and then dropped.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "config/config.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"
#include "training/run_serials.h"

namespace tp::training {

// A StartTrain marker seen for one workload of a pod.
struct PendingStart {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  int64_t time_us = 0;
};

// A performance line for one workload of a pod.
struct PendingPerformance {
  std::string workload_uid;
  std::string nearest_workload_uid;
  std::string pod_uid;
  std::string performance_json;
  int64_t iteration = 0;
  int64_t time_us = 0;
};

struct TrainingItems {
  std::vector<PendingStart> starts;
  std::vector<PendingPerformance> performances;

  size_t size() const { return starts.size() + performances.size(); }
  bool empty() const { return size() == 0; }
};

class TrainingWriter {
 public:
  TrainingWriter(storage::Database& database, const config::TrainingConfig& config,
                 telemetry::TrainingWriteMetrics metrics);
  ~TrainingWriter();

  void start();
  // Writes what it can until `grace` is over; what is left is counted as lost.
  void stop(std::chrono::milliseconds grace);

  // All or nothing: false (and nothing taken) when the buffer lacks room for every item.
  bool submit(TrainingItems&& items);

  size_t pending() const;

 private:
  void run();
  // Writes one batch taken from the buffer; on error nothing of it counts as written and the
  // caller puts it back (every statement is idempotent, so a partial success is harmless).
  absl::Status write(const TrainingItems& batch);
  absl::Status loadWorkloads(const TrainingItems& batch);
  // Replaces what is known of these workloads' runs with what the database holds.
  absl::Status reloadRuns(const absl::flat_hash_set<std::string_view>& workloads);
  absl::Status writeStarts(const std::vector<PendingStart>& starts);
  absl::Status writePerformances(const std::vector<PendingPerformance>& performances);

  storage::Database& database_;
  config::TrainingConfig config_;
  telemetry::TrainingWriteMetrics metrics_;
  RunSerials serials_;  // writer thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<PendingStart> starts_;
  std::deque<PendingPerformance> performances_;
  size_t in_flight_ = 0;  // taken by the writer thread, not yet written
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

}  // namespace tp::training
