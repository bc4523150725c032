#include "queue/disk_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <thread>

#include "fmt/format.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp::queue {
namespace {

using namespace std::chrono_literals;

// Keeps what the default logger writes while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Lines containing `text`.
  size_t count(std::string_view text) const {
    const auto lines = sink_->last_formatted();
    return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& line) {
      return line.find(text) != std::string::npos;
    }));
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
};

using namespace std::string_literals;

class DiskQueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskQueue> open(QueueRecovery* recovery = nullptr,
                                  const common::Clock& clock = common::systemClock()) {
    auto queue = DiskQueue::open(options_, recovery, clock);
    EXPECT_TRUE(queue.ok()) << queue.status();
    return queue.ok() ? std::move(*queue) : nullptr;
  }

  static std::string payload(int i) {
    return "record-" + std::to_string(i) + std::string(100, 'x');
  }

  // Delivers everything pending; returns the payloads in order.
  static std::vector<std::string> drain(DiskQueue& queue) {
    std::vector<std::string> delivered;
    QueuedRecord record;
    while (queue.next(nullptr, &record)) {
      delivered.push_back(record.payload);
      EXPECT_TRUE(queue.commit(record.end).ok());
    }
    return delivered;
  }

  std::vector<std::filesystem::path> segments() const {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(options_.dir)) {
      if (entry.path().extension() == ".seg") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  std::filesystem::path segmentFile(uint64_t segment) const {
    return options_.dir / fmt::format("{:020d}.seg", segment);
  }

  testing::TempDir dir_{"tp-queue-"};
  DiskQueueOptions options_{
      .dir = dir_.path() / "endpoint", .max_bytes = 1 << 20, .segment_bytes = 1 << 10};
};

TEST_F(DiskQueueTest, DeliversInOrderAndCountsWhatIsPending) {
  auto queue = open();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue->append(payload(i), 10 + i, nullptr).ok());
  EXPECT_EQ(queue->pendingRecords(), 5u);
  QueuedRecord record;
  ASSERT_TRUE(queue->next(nullptr, &record));
  EXPECT_EQ(record.payload, payload(0));
  EXPECT_EQ(record.items, 10u);
  QueuedRecord second;
  ASSERT_TRUE(queue->next(&record.end, &second));  // reading ahead consumes nothing
  EXPECT_EQ(second.payload, payload(1));
  ASSERT_TRUE(queue->next(nullptr, &record));
  EXPECT_EQ(record.payload, payload(0));
  ASSERT_TRUE(queue->commit(record.end).ok());
  EXPECT_EQ(queue->pendingRecords(), 4u);
  const auto rest = drain(*queue);
  EXPECT_EQ(rest, (std::vector<std::string>{payload(1), payload(2), payload(3), payload(4)}));
  EXPECT_FALSE(queue->next(nullptr, &record));
}

TEST_F(DiskQueueTest, UndeliveredRecordsSurviveAReopen) {
  {
    auto queue = open();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
    QueuedRecord record;
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(queue->next(nullptr, &record));
      ASSERT_TRUE(queue->commit(record.end).ok());
    }
  }  // no sync, no orderly close needed beyond the destructor: writes are in the kernel
  QueueRecovery recovery;
  auto queue = open(&recovery);
  EXPECT_EQ(recovery.records, 13u);
  EXPECT_EQ(recovery.items, 13u);
  EXPECT_EQ(recovery.corrupt_records, 0u);
  const auto delivered = drain(*queue);
  ASSERT_EQ(delivered.size(), 13u);
  EXPECT_EQ(delivered.front(), payload(7));
  EXPECT_EQ(delivered.back(), payload(19));
  // New records go after the old ones.
  ASSERT_TRUE(queue->append(payload(99), 1, nullptr).ok());
  EXPECT_EQ(drain(*queue), std::vector<std::string>{payload(99)});
}

TEST_F(DiskQueueTest, DeliveredSegmentsAreDeleted) {
  auto queue = open();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
  EXPECT_GT(segments().size(), 5u);  // 1 KiB segments, ~125-byte records
  EXPECT_EQ(drain(*queue).size(), 50u);
  EXPECT_EQ(segments().size(), 1u);  // the one being written
  EXPECT_LE(queue->bytesOnDisk(), options_.segment_bytes);
}

TEST_F(DiskQueueTest, FullQueueRefusesAndStaysUnderItsCap) {
  options_.max_bytes = 4 << 10;
  auto queue = open();
  int accepted = 0;
  absl::Status status;
  while ((status = queue->append(payload(accepted), 1, nullptr)).ok()) ++accepted;
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("queue.maxDiskUsage"), std::string::npos);
  EXPECT_GT(accepted, 20);
  EXPECT_LE(queue->bytesOnDisk(), options_.max_bytes);
  // Delivering makes room again.
  EXPECT_EQ(drain(*queue).size(), static_cast<size_t>(accepted));
  EXPECT_TRUE(queue->append(payload(1000), 1, nullptr).ok());
}

TEST_F(DiskQueueTest, DropOldestMakesRoomAndCountsWhatItDropped) {
  options_.max_bytes = 4 << 10;
  options_.when_full = WhenFull::kDropOldest;
  auto queue = open();
  uint64_t dropped_total = 0;
  for (int i = 0; i < 200; ++i) {
    uint64_t dropped = 0;
    ASSERT_TRUE(queue->append(payload(i), 3, &dropped).ok());
    dropped_total += dropped;
    EXPECT_LE(queue->bytesOnDisk(), options_.max_bytes);
  }
  const auto delivered = drain(*queue);
  EXPECT_EQ(delivered.back(), payload(199));
  // Every item is either delivered or counted as dropped.
  EXPECT_EQ(dropped_total + 3 * delivered.size(), 3u * 200);
}

TEST_F(DiskQueueTest, TornTailIsCutAndCorruptRecordsAreSkipped) {
  {
    auto queue = open();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
  }
  const auto segment = segments().back();
  const auto size = std::filesystem::file_size(segment);
  {
    // Damage the second record's payload, then leave half a record at the end (a crash
    // in the middle of a write).
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff record = 16 + static_cast<std::streamoff>(payload(0).size());
    file.seekp(record + 16 + 3);
    file.put('#');
    file.seekp(0, std::ios::end);
    const char torn[] = {'T', 'P', 'Q', '1', 0x00, 0x10, 0x00, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 'x'};
    file.write(torn, sizeof(torn));
  }
  QueueRecovery recovery;
  auto queue = open(&recovery);
  EXPECT_EQ(recovery.corrupt_records, 1u);
  EXPECT_EQ(recovery.torn_bytes, 17u);
  EXPECT_EQ(recovery.records, 2u);
  EXPECT_EQ(std::filesystem::file_size(segment), size);
  EXPECT_EQ(drain(*queue), (std::vector<std::string>{payload(0), payload(2)}));
}

TEST_F(DiskQueueTest, ACorruptLengthInTheLastSegmentIsNotTakenForATornTail) {
  {
    auto queue = open();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
  }
  const auto segment = segments().back();
  const auto size = std::filesystem::file_size(segment);
  {
    // The second record's length runs past the end of the file, as a torn record's would.
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16 + static_cast<std::streamoff>(payload(0).size()) + 4);
    const char length[] = {0, 0, 0x10, 0};  // 1 MiB
    file.write(length, sizeof(length));
  }
  QueueRecovery recovery;
  auto queue = open(&recovery);
  EXPECT_EQ(recovery.torn_bytes, 0u);
  EXPECT_EQ(recovery.corrupt_records, 1u);
  EXPECT_EQ(recovery.corrupt_bytes, 16 + payload(1).size());
  EXPECT_EQ(recovery.records, 2u);
  EXPECT_EQ(std::filesystem::file_size(segment), size);  // the third record was not cut
  EXPECT_EQ(drain(*queue), (std::vector<std::string>{payload(0), payload(2)}));
}

TEST_F(DiskQueueTest, GarbageFilesAreNotFatal) {
  std::filesystem::create_directories(options_.dir);
  std::ofstream(options_.dir / "00000000000000000003.seg") << std::string(5000, '\xab');
  std::ofstream(options_.dir / "cursor") << "not a cursor";
  QueueRecovery recovery;
  auto queue = open(&recovery);
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(recovery.records, 0u);
  QueuedRecord record;
  EXPECT_FALSE(queue->next(nullptr, &record));
  ASSERT_TRUE(queue->append(payload(1), 1, nullptr).ok());
  EXPECT_EQ(drain(*queue), std::vector<std::string>{payload(1)});
}

TEST_F(DiskQueueTest, FilesNamedLikeNoSegmentAreLeftAloneWithAWarning) {
  {
    auto queue = open();
    ASSERT_TRUE(queue->append(payload(0), 1, nullptr).ok());
  }
  const std::vector<std::string> strays = {"00000001.seg.tmp", "garbage.seg",
                                           std::string(30, '9') + ".seg"};  // beyond 64 bits
  for (const auto& name : strays) std::ofstream(options_.dir / name) << "not a segment";
  LogCapture log;
  QueueRecovery recovery;
  auto queue = open(&recovery);
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(recovery.records, 1u);
  EXPECT_EQ(drain(*queue), std::vector<std::string>{payload(0)});
  for (const auto& name : strays) {
    EXPECT_TRUE(std::filesystem::exists(options_.dir / name)) << name;
    EXPECT_EQ(log.count(name), 1u) << name;
  }
  EXPECT_EQ(log.count("ignoring"), strays.size());  // not the cursor or the lock file
}

TEST_F(DiskQueueTest, WithFsyncAlwaysEachNewSegmentsDirectoryEntryIsSynced) {
  options_.fsync_always = true;
  options_.segment_bytes = 1;  // a segment per record
  auto queue = open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
  EXPECT_EQ(segments().size(), 3u);
  EXPECT_EQ(queue->directorySyncs(), 3u);
}

// The syncer runs on the injected clock: a sync happens each time the clock passes sync_interval,
// never in between, however long the test takes in real time.
TEST_F(DiskQueueTest, PeriodicSyncsFollowTheClockAndFailuresAreWarnedAboutOncePerStreak) {
  LogCapture log;
  testing::SimulatedClock clock;
  options_.segment_bytes = 1;  // a segment per record
  options_.sync_interval = 1s;
  auto queue = open(nullptr, clock);
  ASSERT_TRUE(queue->append(payload(0), 1, nullptr).ok());
  // The next segment is /dev/null: writes succeed, fdatasync fails (EINVAL) like a failing disk's.
  std::filesystem::create_symlink("/dev/null", segmentFile(2));
  ASSERT_TRUE(queue->append(payload(1), 1, nullptr).ok());
  EXPECT_EQ(queue->syncFailures(), 0u);  // the clock has not moved: no sync yet
  for (uint64_t failures = 1; failures <= 3; ++failures) {
    clock.advance(options_.sync_interval);
    EXPECT_TRUE(testing::waitFor([&] { return queue->syncFailures() == failures; }));
  }
  EXPECT_EQ(log.count("cannot sync"), 1u);
  // A segment on the disk again: the streak ends at the next sync.
  ASSERT_TRUE(queue->append(payload(2), 1, nullptr).ok());
  clock.advance(options_.sync_interval);
  EXPECT_TRUE(testing::waitFor([&] { return log.count("syncs again") == 1; }));
  EXPECT_EQ(queue->syncFailures(), 3u);
  // A new streak is warned about again.
  std::filesystem::create_symlink("/dev/null", segmentFile(4));
  ASSERT_TRUE(queue->append(payload(3), 1, nullptr).ok());
  clock.advance(options_.sync_interval);
  EXPECT_TRUE(testing::waitFor([&] { return queue->syncFailures() == 4; }));
  EXPECT_EQ(log.count("cannot sync"), 2u);
}

TEST_F(DiskQueueTest, ATornCursorSaveFallsBackToThePreviousPosition) {
  {
    auto queue = open();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
    QueuedRecord record;
    for (int i = 0; i < 2; ++i) {  // two saves: one per cursor slot
      ASSERT_TRUE(queue->next(nullptr, &record));
      ASSERT_TRUE(queue->commit(record.end).ok());
    }
  }
  // The newest save (past record 1) is torn; the one before (past record 0) is intact.
  {
    std::fstream cursor(options_.dir / "cursor", std::ios::in | std::ios::out | std::ios::binary);
    cursor.seekp(0);  // the second save went to slot 0
    cursor.write("torn", 4);
  }
  auto queue = open();
  EXPECT_EQ(drain(*queue), (std::vector<std::string>{payload(1), payload(2)}));
}

TEST_F(DiskQueueTest, ADirectoryIsOpenInOneQueueAtATime) {
  auto first = open();
  auto second = DiskQueue::open(options_, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);
  first.reset();  // closing releases it
  EXPECT_TRUE(DiskQueue::open(options_, nullptr).ok());
}

}  // namespace
TEST_F(DiskQueueTest, TheOldestWaitingRecordIsTheEarliestAppendNotDeliveredOrDropped) {
  testing::SimulatedClock clock;
  const auto start = clock.wallNow();
  {
    auto queue = open(nullptr, clock);
    EXPECT_FALSE(queue->oldestRecord().has_value());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(queue->append(payload(i), 1, nullptr).ok());
      clock.advance(std::chrono::seconds(10));
    }
    ASSERT_TRUE(queue->oldestRecord().has_value());
    EXPECT_EQ(queue->oldestRecord()->appended, start);
    EXPECT_FALSE(queue->oldestRecord()->estimated);
    QueuedRecord record;
    ASSERT_TRUE(queue->next(nullptr, &record));
    ASSERT_TRUE(queue->commit(record.end).ok());
    EXPECT_EQ(queue->oldestRecord()->appended, start + std::chrono::seconds(10));
  }
  // Reopened, the records left from before carry their segment's last write: an upper bound.
  auto queue = open(nullptr, clock);
  ASSERT_TRUE(queue->oldestRecord().has_value());
  EXPECT_TRUE(queue->oldestRecord()->estimated);
  ASSERT_TRUE(queue->append(payload(9), 1, nullptr).ok());
  EXPECT_EQ(drain(*queue).size(), 3u);
  EXPECT_FALSE(queue->oldestRecord().has_value());
  // Everything delivered before a restart: what is appended after it is timed exactly.
  queue.reset();
  queue = open(nullptr, clock);
  clock.advance(std::chrono::seconds(5));
  const auto restarted = clock.wallNow();
  ASSERT_TRUE(queue->append(payload(10), 1, nullptr).ok());
  ASSERT_TRUE(queue->oldestRecord().has_value());
  EXPECT_FALSE(queue->oldestRecord()->estimated);
  EXPECT_EQ(queue->oldestRecord()->appended, restarted);

  // Dropped to make room, a record no longer waits.
  options_.max_bytes = 3 * (payload(0).size() + 16) + 1;
  options_.when_full = WhenFull::kDropOldest;
  options_.dir = dir_.path() / "dropping";
  auto dropping = open(nullptr, clock);
  const auto first = clock.wallNow();
  for (int i = 0; i < 5; ++i) {
    uint64_t dropped = 0;
    ASSERT_TRUE(dropping->append(payload(i), 1, &dropped).ok());
    clock.advance(std::chrono::seconds(1));
  }
  QueuedRecord oldest;
  ASSERT_TRUE(dropping->next(nullptr, &oldest));
  const int index = oldest.payload["record-"s.size()] - '0';
  EXPECT_GT(index, 0) << "records were dropped";
  ASSERT_TRUE(dropping->oldestRecord().has_value());
  EXPECT_EQ(dropping->oldestRecord()->appended, first + std::chrono::seconds(index));
}

}  // namespace tp::queue
