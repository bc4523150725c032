#pragma once
// An on-disk queue of records: an append-only log split into segment files, with the read
// position kept in a separate cursor file. A record is an opaque payload and the number of items
// it holds (the forwarder's batches hold samples, the training journal's records hold rows). A
// record is in the kernel when append() returns, so it survives kill -9; fsync (by the queue's
// own thread every sync_interval, or before append() returns, one fdatasync covering every
// append that waits for it, and the directory once per new segment) makes it survive power loss.
// The reader delivers records in order and commits them; segments wholly delivered are deleted.
// Disk use is capped: a full queue refuses appends (the caller answers 503) or, if so
// configured, drops its oldest records.
//
// On disk, per record: magic "TPQ1", payload length, item count, CRC-32 of the payload (all
// little-endian u32), then the payload. The cursor file has two checksummed slots overwritten in
// turn, so saving it is one pwrite and a torn save leaves the previous position. Opening a queue
// checks every unread record: a torn tail (a crash in the middle of a write) is cut off, and a
// corrupted record is skipped by searching for the next valid header. Neither is fatal; both are
// counted. A queue directory is open in one process at a time (flock on its lock file).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace tp::queue {

enum class WhenFull { kReject, kDropOldest };

struct DiskQueueOptions {
  std::filesystem::path dir;
  uint64_t max_bytes = 0;                // queue.maxDiskUsage: forward::queueOptions() fills it
  uint64_t segment_bytes = 64ull << 20;  // a segment is closed once it holds this much
  bool fsync_always = false;             // else synced every sync_interval
  std::chrono::milliseconds sync_interval{1'000};
  WhenFull when_full = WhenFull::kReject;
};

// What opening found.
struct QueueRecovery {
  uint64_t records = 0;  // unread records carried over from the previous run
  uint64_t items = 0;
  uint64_t corrupt_records = 0;  // skipped: bad header or checksum
  uint64_t corrupt_bytes = 0;
  uint64_t torn_bytes = 0;  // cut from the end of the last segment
  // The segment this run appends to first: every record in an earlier segment is from earlier runs.
  uint64_t append_segment = 0;
};

// Where a record ends in the log: what commit() and next() take.
struct QueuePosition {
  uint64_t segment = 0;
  uint64_t end_offset = 0;
};

// When the oldest record not yet delivered was appended. For a record an earlier run left, the
// time is its segment file's last write (`estimated`): no earlier than its append, so the age it
// gives is at most the true one.
struct OldestRecord {
  std::chrono::system_clock::time_point appended;
  bool estimated = false;
};

struct QueuedRecord {
  std::string payload;
  uint32_t items = 0;
  QueuePosition end;
};

class DiskQueue {
 public:
  // `clock` paces the periodic syncs (fsync_always off).
  static absl::StatusOr<std::unique_ptr<DiskQueue>> open(
      const DiskQueueOptions& options, QueueRecovery* recovery,
      const common::Clock& clock = common::systemClock());
  ~DiskQueue();

  DiskQueue(const DiskQueue&) = delete;
  DiskQueue& operator=(const DiskQueue&) = delete;

  // Appends one record; with fsync_always, returns once it is on stable storage. ResourceExhausted
  // when the queue is at its cap (kReject); with kDropOldest, the oldest records make room and
  // `dropped_items` says how many items went.
  absl::Status append(std::string_view payload, uint32_t items, uint64_t* dropped_items);

  // The record after `after` (nullptr: the oldest undelivered one), without consuming it; false
  // when there is none yet. Lets several senders work on consecutive records.
  bool next(const QueuePosition* after, QueuedRecord* record);
  // Marks the record ending at `end` delivered; records must be committed in order. The cursor
  // moves past it and is saved; segments left behind are deleted.
  absl::Status commit(const QueuePosition& end);

  // False once the record ending at `end` has been committed or dropped.
  bool holds(const QueuePosition& end) const;

  // Flushes written records and the cursor's directory entry to stable storage.
  absl::Status sync();

  // False when the queue refuses when full and cannot take a record of `payload_bytes` (its
  // header counted too).
  bool hasRoomFor(uint64_t payload_bytes) const;
  // Replaces max_bytes; what the queue holds already stays (appends drop or refuse against it).
  void setMaxBytes(uint64_t max_bytes);
  uint64_t bytesOnDisk() const;
  uint64_t pendingRecords() const;
  // None while nothing waits.
  std::optional<OldestRecord> oldestRecord() const;
  // Segments whose directory entry was synced before their first append (fsync_always).
  uint64_t directorySyncs() const;
  // Periodic syncs (fsync_always off) that failed: records appended meanwhile may be lost with
  // power. A metric for callers; the queue warns once per run of failures.
  uint64_t syncFailures() const;

 private:
  DiskQueue(const DiskQueueOptions& options, const common::Clock& clock);
  absl::Status recover(QueueRecovery* recovery);
  absl::Status openNewSegment();
  // Group commit: returns once the `sequence`-th append is synced, syncing itself (and every
  // append before it) unless another caller's sync already covers it.
  absl::Status syncThrough(uint64_t sequence);
  // Syncs at `first`, then every sync_interval after the previous sync began, until closing.
  void syncEveryInterval(common::Clock::TimePoint first);
  absl::Status saveCursorLocked();
  absl::Status dropOldestLocked(uint64_t needed, uint64_t* dropped_items);
  void deleteSegmentLocked(uint64_t segment);
  bool holdsLocked(const QueuePosition& end) const;
  // Forgets the append times of records no longer held.
  void forgetDeliveredLocked();
  // A descriptor of `segment` for reading, kept open while reads stay in that segment.
  int readFdLocked(uint64_t segment);
  // Reads the record at `*offset` of `segment`; false at the end. With `verify`, checksums are
  // checked; corrupt records are skipped (counted in `stats` when given).
  bool readAt(uint64_t segment, uint64_t* offset, QueuedRecord* record, QueueRecovery* stats,
              bool verify);
  std::filesystem::path segmentPath(uint64_t segment) const;

  DiskQueueOptions options_;
  const common::Clock& clock_;
  mutable std::mutex mutex_;
  int write_fd_ = -1;
  uint64_t write_segment_ = 0;
  uint64_t write_offset_ = 0;
  uint64_t first_own_segment_ = 0;  // segments before it were written by an earlier run
  uint64_t read_segment_ = 0;
  uint64_t read_offset_ = 0;
  std::map<uint64_t, uint64_t> segment_sizes_;  // segments from the read segment on
  uint64_t bytes_on_disk_ = 0;
  uint64_t pending_records_ = 0;
  bool dirty_ = false;        // appended since the last sync
  bool entry_synced_ = true;  // the write segment's directory entry is on stable storage
  uint64_t directory_syncs_ = 0;
  std::atomic<uint64_t> sync_failures_ = 0;
  int read_fd_ = -1;
  uint64_t read_fd_segment_ = 0;
  int cursor_fd_ = -1;
  int lock_fd_ = -1;              // holds an exclusive flock while the queue is open
  uint64_t cursor_sequence_ = 0;  // of the newest cursor slot
  uint64_t appended_ = 0;         // appends so far: their sequence numbers
  // This run's records not yet delivered, oldest first: where each ends and when it was
  // appended (a few tens of bytes per batch waiting).
  struct AppendTime {
    QueuePosition end;
    std::chrono::system_clock::time_point appended;
  };
  std::deque<AppendTime> append_times_;

  std::mutex sync_mutex_;  // group commit (fsync_always)
  std::condition_variable sync_done_;
  bool syncing_ = false;
  uint64_t synced_through_ = 0;

  std::mutex syncer_mutex_;  // the periodic syncer (fsync_always off)
  std::condition_variable syncer_wakeup_;
  bool closing_ = false;
  std::thread syncer_;
};

}  // namespace tp::queue
