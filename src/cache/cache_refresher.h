#pragma once
// Rebuilds the cluster snapshot from the database every cache.refreshInterval on its own
// thread and publishes it by a pointer swap under a mutex held only to copy the pointer
// (libstdc++'s atomic<shared_ptr> locks too, in a way ThreadSanitizer cannot see). Readers never
// wait for a refresh; a failed refresh keeps the previous snapshot and is logged and counted. Each
// snapshot read from the database is also saved to a file; when the database cannot be read before
// anything was loaded (a restart during an outage), that file is served until it can.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "cache/cluster_snapshot.h"
#include "common/clock.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"

namespace tp::cache {

enum class SnapshotSource { kNone, kDatabase, kFile };
std::string_view sourceName(SnapshotSource source);  // "none", "database", "file"

// Where the current snapshot came from, how long ago its data was read from the database, and
// how many snapshots were published before it (0: none loaded yet).
struct SnapshotOrigin {
  SnapshotSource source = SnapshotSource::kNone;
  std::chrono::seconds age{0};
  uint64_t generation = 0;
};

class CacheRefresher {
 public:
  // `snapshot_file`: where each snapshot read from the database is kept (empty: nowhere).
  // `clock`: its wall time stamps database reads and tells the age of the data; its monotonic
  // time paces the refreshes.
  CacheRefresher(storage::Database& database, std::chrono::milliseconds interval,
                 telemetry::CacheMetrics metrics, std::filesystem::path snapshot_file = {},
                 const common::Clock& clock = common::systemClock());
  ~CacheRefresher();

  // The current snapshot; empty until the first successful load. Never null.
  std::shared_ptr<const ClusterSnapshot> snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    return snapshot_;
  }
  // True once a snapshot was loaded, from the database or from the file.
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  SnapshotOrigin origin() const;

  // One refresh on the calling thread; the first one that fails before anything was loaded
  // loads the snapshot file instead. The schema is not its business (storage::SchemaMaintainer).
  absl::Status refreshNow();

  // Refreshes once on the calling thread (a reachable database is read before the caller goes
  // on), then on its own thread every interval (from the start of one refresh to the next) until
  // stop(); until the database has been read, every second when the interval is longer.
  void start();
  void stop();

 private:
  void run(common::Clock::TimePoint next);
  // One refresh; returns when the next one is due.
  common::Clock::TimePoint refreshAndSchedule();
  void loadSnapshotFile();
  void publish(std::shared_ptr<const ClusterSnapshot> snapshot, SnapshotSource source,
               std::chrono::system_clock::time_point read_at);
  SnapshotSource source() const;

  storage::Database& database_;
  const std::chrono::milliseconds interval_;
  telemetry::CacheMetrics metrics_;
  const std::filesystem::path snapshot_file_;
  const common::Clock& clock_;
  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const ClusterSnapshot> snapshot_;  // guarded by snapshot_mutex_
  std::atomic<bool> loaded_{false};
  std::mutex refresh_mutex_;  // one refresh at a time; guards the flag below
  bool snapshot_file_tried_ = false;

  mutable std::mutex origin_mutex_;
  SnapshotSource source_ = SnapshotSource::kNone;
  std::chrono::system_clock::time_point read_at_;
  uint64_t generation_ = 0;

  std::mutex stop_mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tp::cache
