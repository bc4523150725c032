// Training rows on the production backends: the start and the end of one checkpoint operation,
// written at once by two replicas, leave exactly one complete row on PostgreSQL and MariaDB.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <latch>
#include <set>
#include <thread>

#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "storage/training_rows.h"
#include "support/checkpoint_rows.h"
#include "support/database_servers.h"

namespace tp {
namespace {

constexpr int64_t kT0 = 1761223152'123456;
constexpr int64_t kSecond = 1'000'000;

class TrainingDatabaseTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = testing::startDatabase(GetParam());
    for (std::unique_ptr<storage::Database>* replica : {&a_, &b_}) {
      auto database = storage::Database::create(server_->dbConfig());
      ASSERT_TRUE(database.ok()) << database.status();
      *replica = std::move(*database);
      // Connected before the race, so that neither side is held back by its handshake.
      ASSERT_TRUE((*replica)->run([](soci::session& sql) { sql << "SELECT 1"; }).ok());
    }
    ASSERT_TRUE(storage::ensureSchema(*a_, nullptr).ok());
  }

  // Replica A writes the start while replica B writes the end, released together.
  void race(const storage::CheckpointLine& start, const storage::CheckpointLine& end) {
    std::latch go(2);
    absl::Status started, ended;
    std::thread starter([&] {
      go.arrive_and_wait();
      started = storage::insertCheckpointStarts(*a_, std::span(&start, 1)).status();
    });
    std::thread ender([&] {
      go.arrive_and_wait();
      ended = storage::completeCheckpoints(*b_, std::span(&end, 1)).status();
    });
    starter.join();
    ender.join();
    EXPECT_TRUE(started.ok()) << started;
    EXPECT_TRUE(ended.ok()) << ended;
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> a_, b_;
};

storage::CheckpointLine checkpointLine(storage::CheckpointOperation operation, int64_t iteration,
                                       bool end, std::optional<int64_t> duration_ms) {
  return {.workload_uid = "w-job",
          .pod_uid = "pod-0",
          .serial = 1,
          .iteration = iteration,
          .path = "/ckpt",
          .operation = operation,
          .end = end,
          .time_us = kT0 + iteration * 60 * kSecond + (end ? 2 * kSecond : 0),
          .duration_ms = duration_ms};
}

TEST_P(TrainingDatabaseTest, ARacingStartAndEndOfOneOperationLeaveOneCompleteRow) {
  constexpr int kRounds = 30;
  for (const auto operation :
       {storage::CheckpointOperation::kSave, storage::CheckpointOperation::kLoad}) {
    for (int64_t iteration = 1; iteration <= kRounds; ++iteration) {
      // Every other end prints its duration; the others depend on the start being seen.
      const std::optional<int64_t> printed =
          iteration % 2 == 0 ? std::optional<int64_t>(1500) : std::nullopt;
      race(checkpointLine(operation, iteration, false, std::nullopt),
           checkpointLine(operation, iteration, true, printed));
    }
  }
  const std::vector<testing::StoredCheckpoint> rows = testing::readCheckpoints(*a_);
  ASSERT_EQ(rows.size(), 2u * kRounds) << "one row per operation";
  std::set<std::pair<std::string, int64_t>> operations;
  for (const testing::StoredCheckpoint& row : rows) {
    EXPECT_TRUE(row.event_type == "end_saving" || row.event_type == "loading") << row.event_type;
    EXPECT_EQ(row.status, "success") << row.event_type << " " << row.iteration;
    EXPECT_TRUE(row.start_us.has_value());
    EXPECT_EQ(row.end_us, kT0 + row.iteration * 60 * kSecond + 2 * kSecond);
    if (row.iteration % 2 == 0) {
      EXPECT_EQ(row.duration_ms, 1500);
    } else if (row.duration_ms) {
      EXPECT_EQ(*row.duration_ms, 2000) << "the time since the recorded start";
    }
    operations.emplace(row.event_type, row.iteration);
  }
  EXPECT_EQ(operations.size(), 2u * kRounds);
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainingDatabaseTest, ::testing::Values("postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
