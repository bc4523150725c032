#pragma once
// Rebuilds the cluster snapshot from the database every cache.refreshInterval on its own
// thread and publishes it by an atomic pointer swap. Readers take the current snapshot without
// waiting; a failed refresh keeps the previous snapshot and is logged and counted.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "cache/cluster_snapshot.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"

namespace tp::cache {

class CacheRefresher {
 public:
  CacheRefresher(storage::Database& database, std::chrono::milliseconds interval,
                 telemetry::CacheMetrics metrics);
  ~CacheRefresher();

  // The current snapshot; empty until the first successful refresh. Never null.
  std::shared_ptr<const ClusterSnapshot> snapshot() const { return snapshot_.load(); }
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }

  // One refresh on the calling thread (also creates the schema until that has succeeded).
  absl::Status refreshNow();

  // Refreshes once on the calling thread (a reachable database is read before the caller goes
  // on), then on its own thread every interval until stop(); until a refresh has succeeded,
  // every second when the interval is longer.
  void start();
  void stop();

 private:
  void run();

  storage::Database& database_;
  const std::chrono::milliseconds interval_;
  telemetry::CacheMetrics metrics_;
  std::atomic<std::shared_ptr<const ClusterSnapshot>> snapshot_;
  std::atomic<bool> loaded_{false};
  bool schema_ready_ = false;
  std::mutex refresh_mutex_;  // one refresh at a time

  std::mutex stop_mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tp::cache
