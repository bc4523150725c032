#include "queue/disk_queue.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "common/status.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tp::queue {
namespace {

constexpr uint32_t kMagic = 0x31515054;  // "TPQ1" little-endian
constexpr size_t kHeaderBytes = 16;
constexpr std::string_view kSegmentSuffix = ".seg";
constexpr std::string_view kCursorFile = "cursor";
constexpr std::string_view kLockFile = "lock";

struct Header {
  uint32_t magic;
  uint32_t length;
  uint32_t items;
  uint32_t crc;
};
static_assert(sizeof(Header) == kHeaderBytes);

// The cursor file holds two of these; each save overwrites the older one in place (no rename,
// one pwrite), so a save torn by a crash leaves the other slot valid.
struct CursorSlot {
  uint32_t magic;
  uint32_t crc;  // of the three fields below
  uint64_t sequence;
  uint64_t segment;
  uint64_t offset;
};
static_assert(sizeof(CursorSlot) == 32);
constexpr uint32_t kCursorMagic = 0x4b515054;  // "TPQK"

uint32_t slotChecksum(const CursorSlot& slot) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(&slot.sequence), 3 * sizeof(uint64_t)));
}

uint32_t checksum(std::string_view payload) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

absl::Status ioError(std::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(
      common::concat("disk queue: ", what, " ", path.string(), ": ", std::strerror(errno)));
}

// Reads exactly `size` bytes at `offset`; false on a short read.
bool readExactly(int fd, uint64_t offset, char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The number a segment file's name holds; nullopt for any other name, or a number beyond 64 bits.
std::optional<uint64_t> segmentNumber(std::string_view name) {
  if (!name.ends_with(kSegmentSuffix)) return std::nullopt;
  const std::string_view digits = name.substr(0, name.size() - kSegmentSuffix.size());
  uint64_t number = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return number;
}

bool syncDirectory(const std::filesystem::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd.get() >= 0 && fsync(fd.get()) == 0;
}

uint64_t fileSize(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<uint64_t>(size);
}

}  // namespace

DiskQueue::DiskQueue(const DiskQueueOptions& options, const common::Clock& clock)
    : options_(options), clock_(clock) {}

DiskQueue::~DiskQueue() {
  {
    std::lock_guard lock(syncer_mutex_);
    closing_ = true;
  }
  syncer_wakeup_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (write_fd_ >= 0) {
    (void)sync();
    close(write_fd_);
  }
  if (read_fd_ >= 0) close(read_fd_);
  if (cursor_fd_ >= 0) close(cursor_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the lock
}

std::filesystem::path DiskQueue::segmentPath(uint64_t segment) const {
  return options_.dir / fmt::format("{:020d}{}", segment, kSegmentSuffix);
}

absl::StatusOr<std::unique_ptr<DiskQueue>> DiskQueue::open(const DiskQueueOptions& options,
                                                           QueueRecovery* recovery,
                                                           const common::Clock& clock) {
  std::unique_ptr<DiskQueue> queue(new DiskQueue(options, clock));
  QueueRecovery found;
  TP_RETURN_IF_ERROR(queue->recover(&found));
  if (recovery != nullptr) *recovery = found;
  if (!options.fsync_always) {
    // The first deadline is set before the thread starts: a clock moved once open() returns
    // reaches it.
    const common::Clock::TimePoint first = clock.now() + options.sync_interval;
    queue->syncer_ = std::thread([q = queue.get(), first] { q->syncEveryInterval(first); });
  }
  return queue;
}

absl::Status DiskQueue::recover(QueueRecovery* recovery) {
  std::error_code error;
  std::filesystem::create_directories(options_.dir, error);
  if (error) {
    return absl::InternalError(
        common::concat("disk queue: cannot create ", options_.dir.string(), ": ", error.message()));
  }
  // Two processes appending to one queue would interleave their records: the first one holds it.
  lock_fd_ = ::open((options_.dir / kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ioError("cannot open", options_.dir / kLockFile);
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        common::concat("disk queue: ", options_.dir.string(),
                       " is in use by another process; every processor needs a queue.dir of "
                       "its own"));
  }
  std::vector<uint64_t> segments;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name == kCursorFile || name == kLockFile) continue;
    if (const std::optional<uint64_t> segment = segmentNumber(name)) {
      segments.push_back(*segment);
    } else {
      // Not ours to delete (a copy, an editor's file): it stays, outside the queue.
      spdlog::warn("disk queue: ignoring {}: not a segment file", entry.path().string());
    }
  }
  std::sort(segments.begin(), segments.end());

  uint64_t cursor_segment = 0;
  uint64_t cursor_offset = 0;
  cursor_fd_ = ::open((options_.dir / kCursorFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (cursor_fd_ < 0) return ioError("cannot open", options_.dir / kCursorFile);
  CursorSlot slots[2] = {};  // a new or short file leaves a slot zeroed: not valid
  if (pread(cursor_fd_, slots, sizeof(slots), 0) < 0) {
    return ioError("cannot read", options_.dir / kCursorFile);
  }
  for (const CursorSlot& slot : slots) {
    if (slot.magic == kCursorMagic && slot.crc == slotChecksum(slot) &&
        slot.sequence >= cursor_sequence_) {
      cursor_sequence_ = slot.sequence;
      cursor_segment = slot.segment;
      cursor_offset = slot.offset;
    }
  }
  read_segment_ = segments.empty() ? 1 : segments.front();
  read_offset_ = 0;
  if (!segments.empty() && cursor_segment >= segments.front() &&
      cursor_segment <= segments.back()) {
    read_segment_ = cursor_segment;
    read_offset_ = cursor_offset;
  }
  for (uint64_t segment : segments) {
    if (segment < read_segment_) {
      std::filesystem::remove(segmentPath(segment), error);
      continue;
    }
    segment_sizes_[segment] = fileSize(segmentPath(segment));
  }
  // Check every unread record once; cut a torn tail off the last segment.
  for (auto& [segment, size] : segment_sizes_) {
    uint64_t offset = segment == read_segment_ ? read_offset_ : 0;
    QueuedRecord record;
    while (readAt(segment, &offset, &record, recovery, /*verify=*/true)) {
      ++recovery->records;
      recovery->items += record.items;
      offset = record.end.end_offset;
    }
    if (offset < size && segment == segments.back()) {
      recovery->torn_bytes += size - offset;
      if (truncate(segmentPath(segment).c_str(), static_cast<off_t>(offset)) != 0) {
        return ioError("cannot truncate", segmentPath(segment));
      }
      size = offset;
    }
  }
  pending_records_ = recovery->records;
  bytes_on_disk_ = 0;
  for (const auto& [segment, size] : segment_sizes_) bytes_on_disk_ += size;
  // Never append behind a tail that may have been torn: writing starts a new segment.
  write_segment_ = segments.empty() ? read_segment_ : segments.back() + 1;
  if (segments.empty()) read_offset_ = 0;
  recovery->append_segment = write_segment_;
  first_own_segment_ = write_segment_;
  return openNewSegment();
}

absl::Status DiskQueue::openNewSegment() {
  if (write_fd_ >= 0) {
    if (dirty_) fdatasync(write_fd_);
    close(write_fd_);
    write_fd_ = -1;
    ++write_segment_;
  }
  const auto path = segmentPath(write_segment_);
  write_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (write_fd_ < 0) return ioError("cannot create", path);
  write_offset_ = 0;
  segment_sizes_[write_segment_] = 0;
  dirty_ = false;
  entry_synced_ = !options_.fsync_always;
  return absl::OkStatus();
}

absl::Status DiskQueue::append(std::string_view payload, uint32_t items, uint64_t* dropped_items) {
  if (dropped_items != nullptr) *dropped_items = 0;
  const uint64_t size = kHeaderBytes + payload.size();
  std::unique_lock lock(mutex_);
  if (bytes_on_disk_ + size > options_.max_bytes) {
    if (options_.when_full == WhenFull::kReject || size > options_.max_bytes) {
      return absl::ResourceExhaustedError(
          common::concat("the delivery queue is full (", bytes_on_disk_, " of ", options_.max_bytes,
                         " bytes, queue.maxDiskUsage): storage is down or slower than ingestion"));
    }
    uint64_t dropped = 0;
    TP_RETURN_IF_ERROR(dropOldestLocked(size, &dropped));
    if (dropped_items != nullptr) *dropped_items = dropped;
  }
  if (write_offset_ > 0 && write_offset_ + size > options_.segment_bytes) {
    TP_RETURN_IF_ERROR(openNewSegment());
  }
  // A synced record survives power loss only if its file's directory entry does. Done before the
  // first append into the segment, so a failure is retried by the next one.
  if (!entry_synced_) {
    if (!syncDirectory(options_.dir)) return ioError("cannot sync", options_.dir);
    entry_synced_ = true;
    ++directory_syncs_;
  }
  const Header header{kMagic, static_cast<uint32_t>(payload.size()), items, checksum(payload)};
  iovec parts[2] = {{const_cast<Header*>(&header), kHeaderBytes},
                    {const_cast<char*>(payload.data()), payload.size()}};
  size_t written = 0;
  while (written < size) {
    // Skip what an interrupted writev already wrote.
    iovec rest[2];
    int count = 0;
    size_t skip = written;
    for (const iovec& part : parts) {
      if (skip >= part.iov_len) {
        skip -= part.iov_len;
        continue;
      }
      rest[count++] = {static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
      skip = 0;
    }
    const ssize_t result = writev(write_fd_, rest, count);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0) {
      // Leave no partial record behind: the next open would cut it anyway.
      (void)ftruncate(write_fd_, static_cast<off_t>(write_offset_));
      return ioError("cannot write", segmentPath(write_segment_));
    }
    written += static_cast<size_t>(result);
  }
  write_offset_ += size;
  segment_sizes_[write_segment_] = write_offset_;
  bytes_on_disk_ += size;
  ++pending_records_;
  append_times_.push_back({{write_segment_, write_offset_}, clock_.wallNow()});
  dirty_ = true;
  const uint64_t sequence = ++appended_;
  lock.unlock();
  return options_.fsync_always ? syncThrough(sequence) : absl::OkStatus();
}

absl::Status DiskQueue::syncThrough(uint64_t sequence) {
  std::unique_lock lock(sync_mutex_);
  while (synced_through_ < sequence) {
    if (syncing_) {
      sync_done_.wait(lock);
      continue;
    }
    syncing_ = true;
    lock.unlock();
    uint64_t target = 0;
    int fd = -1;
    std::filesystem::path path;
    {
      // A duplicate stays valid if the segment is closed meanwhile; closing one syncs it first.
      std::lock_guard queue_lock(mutex_);
      target = appended_;
      fd = dup(write_fd_);
      path = segmentPath(write_segment_);
    }
    const bool synced = fd >= 0 && fdatasync(fd) == 0;
    const int sync_error = errno;
    if (fd >= 0) close(fd);
    lock.lock();
    syncing_ = false;
    if (synced) synced_through_ = std::max(synced_through_, target);
    sync_done_.notify_all();
    if (!synced) {
      errno = sync_error;
      return ioError("cannot sync", path);
    }
  }
  return absl::OkStatus();
}

absl::Status DiskQueue::dropOldestLocked(uint64_t needed, uint64_t* dropped_items) {
  while (bytes_on_disk_ + needed > options_.max_bytes) {
    if (read_segment_ == write_segment_) {
      if (write_offset_ == 0) break;
      TP_RETURN_IF_ERROR(openNewSegment());
    }
    uint64_t offset = read_offset_;
    QueuedRecord record;
    while (readAt(read_segment_, &offset, &record, nullptr, /*verify=*/false)) {
      *dropped_items += record.items;
      if (pending_records_ > 0) --pending_records_;
      offset = record.end.end_offset;
    }
    deleteSegmentLocked(read_segment_);
    read_segment_ = segment_sizes_.begin()->first;
    read_offset_ = 0;
  }
  forgetDeliveredLocked();
  return saveCursorLocked();
}

bool DiskQueue::readAt(uint64_t segment, uint64_t* offset, QueuedRecord* record,
                       QueueRecovery* stats, bool verify) {
  const auto known = segment_sizes_.find(segment);
  if (known == segment_sizes_.end()) return false;
  const uint64_t size = known->second;
  const int fd = readFdLocked(segment);
  if (fd < 0) return false;
  const auto valid = [&](uint64_t at, Header* header, bool check_crc) {
    if (at + kHeaderBytes > size ||
        !readExactly(fd, at, reinterpret_cast<char*>(header), kHeaderBytes) ||
        header->magic != kMagic || at + kHeaderBytes + header->length > size) {
      return false;
    }
    record->payload.resize(header->length);
    return readExactly(fd, at + kHeaderBytes, record->payload.data(), header->length) &&
           (!check_crc || checksum(record->payload) == header->crc);
  };
  Header header{};
  uint64_t at = *offset;
  if (at + kHeaderBytes > size) return false;
  if (!valid(at, &header, verify)) {
    const bool runs_past_end =
        segment == segment_sizes_.rbegin()->first &&
        readExactly(fd, at, reinterpret_cast<char*>(&header), kHeaderBytes) &&
        header.magic == kMagic && at + kHeaderBytes + header.length > size;
    // Corruption: the next position holding a whole, checksummed record.
    std::string rest(size - at, '\0');
    if (!readExactly(fd, at, rest.data(), rest.size())) return false;
    uint64_t next = size;
    for (size_t i = 1; i + kHeaderBytes <= rest.size(); ++i) {
      uint32_t magic;
      std::memcpy(&magic, rest.data() + i, sizeof(magic));
      if (magic == kMagic && valid(at + i, &header, /*check_crc=*/true)) {
        next = at + i;
        break;
      }
    }
    // A record running past the end of the last segment with nothing valid after it is a torn
    // tail (recovery cuts it); with a valid record after it, its length is corrupt.
    if (runs_past_end && next == size) return false;
    if (stats != nullptr) {
      ++stats->corrupt_records;
      stats->corrupt_bytes += next - at;
    }
    *offset = next;
    if (next == size) return false;
    at = next;
  }
  record->items = header.items;
  record->end = {segment, at + kHeaderBytes + header.length};
  return true;
}

int DiskQueue::readFdLocked(uint64_t segment) {
  if (read_fd_ >= 0 && read_fd_segment_ == segment) return read_fd_;
  if (read_fd_ >= 0) close(read_fd_);
  read_fd_ = ::open(segmentPath(segment).c_str(), O_RDONLY | O_CLOEXEC);
  read_fd_segment_ = segment;
  return read_fd_;
}

void DiskQueue::deleteSegmentLocked(uint64_t segment) {
  if (read_fd_ >= 0 && read_fd_segment_ == segment) {
    close(read_fd_);
    read_fd_ = -1;
  }
  std::error_code error;
  std::filesystem::remove(segmentPath(segment), error);
  bytes_on_disk_ -= segment_sizes_[segment];
  segment_sizes_.erase(segment);
}

bool DiskQueue::next(const QueuePosition* after, QueuedRecord* record) {
  std::lock_guard lock(mutex_);
  uint64_t segment = read_segment_;
  uint64_t offset = read_offset_;
  // A position behind the cursor was dropped meanwhile (drop-oldest): go on from the cursor.
  if (after != nullptr && holdsLocked(*after)) {
    segment = after->segment;
    offset = after->end_offset;
  }
  while (true) {
    // Segments from before this start are checked again (opening skipped their corrupt
    // records only in its own scan); segments this process wrote need no checksum.
    if (readAt(segment, &offset, record, nullptr, segment < first_own_segment_)) return true;
    const auto later = segment_sizes_.upper_bound(segment);
    if (later == segment_sizes_.end()) return false;
    segment = later->first;
    offset = 0;
  }
}

bool DiskQueue::holds(const QueuePosition& end) const {
  std::lock_guard lock(mutex_);
  return holdsLocked(end);
}

bool DiskQueue::holdsLocked(const QueuePosition& end) const {
  return end.segment > read_segment_ ||
         (end.segment == read_segment_ && end.end_offset > read_offset_);
}

absl::Status DiskQueue::commit(const QueuePosition& end) {
  std::lock_guard lock(mutex_);
  if (!holdsLocked(end)) return absl::OkStatus();  // dropped meanwhile (drop-oldest)
  while (!segment_sizes_.empty() && segment_sizes_.begin()->first < end.segment) {
    deleteSegmentLocked(segment_sizes_.begin()->first);
  }
  read_segment_ = end.segment;
  read_offset_ = end.end_offset;
  // A closed segment read to its end goes at once.
  if (read_segment_ < write_segment_ && read_offset_ >= segment_sizes_[read_segment_]) {
    deleteSegmentLocked(read_segment_);
    read_segment_ = segment_sizes_.begin()->first;
    read_offset_ = 0;
  }
  if (pending_records_ > 0) --pending_records_;
  forgetDeliveredLocked();
  return saveCursorLocked();
}

void DiskQueue::forgetDeliveredLocked() {
  while (!append_times_.empty() && !holdsLocked(append_times_.front().end)) {
    append_times_.pop_front();
  }
}

std::optional<OldestRecord> DiskQueue::oldestRecord() const {
  std::lock_guard lock(mutex_);
  if (pending_records_ == 0) return std::nullopt;
  // The first segment from an earlier run that still holds unread bytes: the read segment may
  // have been read to its end before the restart.
  std::optional<uint64_t> earlier;
  for (const auto& [segment, size] : segment_sizes_) {
    if (segment >= first_own_segment_) break;
    if (size > (segment == read_segment_ ? read_offset_ : 0)) {
      earlier = segment;
      break;
    }
  }
  if (earlier) {
    struct stat status {};
    if (stat(segmentPath(*earlier).c_str(), &status) != 0) return std::nullopt;
    const auto written = std::chrono::seconds(status.st_mtim.tv_sec) +
                         std::chrono::nanoseconds(status.st_mtim.tv_nsec);
    return OldestRecord{
        .appended = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(written)),
        .estimated = true};
  }
  if (append_times_.empty()) return std::nullopt;
  return OldestRecord{.appended = append_times_.front().appended, .estimated = false};
}

absl::Status DiskQueue::saveCursorLocked() {
  CursorSlot slot{kCursorMagic, 0, ++cursor_sequence_, read_segment_, read_offset_};
  slot.crc = slotChecksum(slot);
  const off_t at = static_cast<off_t>((cursor_sequence_ % 2) * sizeof(CursorSlot));
  if (pwrite(cursor_fd_, &slot, sizeof(slot), at) != static_cast<ssize_t>(sizeof(slot))) {
    return ioError("cannot write", options_.dir / kCursorFile);
  }
  return absl::OkStatus();
}

void DiskQueue::syncEveryInterval(common::Clock::TimePoint first) {
  std::unique_lock lock(syncer_mutex_);
  uint64_t streak = 0;  // failures in a row: warned about once, not at every tick
  common::Clock::TimePoint deadline = first;
  while (!clock_.waitUntil(lock, syncer_wakeup_, deadline, [this] { return closing_; })) {
    // Set before syncing, so that whoever sees this sync's outcome can move the clock past the
    // next deadline.
    deadline = clock_.now() + options_.sync_interval;
    const absl::Status status = sync();
    if (!status.ok()) {
      ++sync_failures_;
      if (streak++ == 0) {
        spdlog::warn("{}; records appended since the last sync may not survive a power loss",
                     common::message(status));
      }
    } else if (streak > 0) {
      spdlog::info("disk queue: {} syncs again after {} failures", options_.dir.string(), streak);
      streak = 0;
    }
  }
}

absl::Status DiskQueue::sync() {
  std::lock_guard lock(mutex_);
  if (dirty_ && write_fd_ >= 0) {
    if (fdatasync(write_fd_) != 0) return ioError("cannot sync", segmentPath(write_segment_));
    dirty_ = false;
  }
  if (cursor_fd_ >= 0) fdatasync(cursor_fd_);
  (void)syncDirectory(options_.dir);
  return absl::OkStatus();
}

bool DiskQueue::hasRoomFor(uint64_t payload_bytes) const {
  std::lock_guard lock(mutex_);
  return options_.when_full == WhenFull::kDropOldest ||
         bytes_on_disk_ + kHeaderBytes + payload_bytes <= options_.max_bytes;
}

void DiskQueue::setMaxBytes(uint64_t max_bytes) {
  std::lock_guard lock(mutex_);
  options_.max_bytes = max_bytes;
}

uint64_t DiskQueue::bytesOnDisk() const {
  std::lock_guard lock(mutex_);
  return bytes_on_disk_;
}

uint64_t DiskQueue::directorySyncs() const {
  std::lock_guard lock(mutex_);
  return directory_syncs_;
}

uint64_t DiskQueue::syncFailures() const { return sync_failures_; }

uint64_t DiskQueue::pendingRecords() const {
  std::lock_guard lock(mutex_);
  return pending_records_;
}

}  // namespace tp::queue
