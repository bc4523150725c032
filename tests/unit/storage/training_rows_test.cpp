// Checkpoint operations and EndTrain events on SQLite: one checkpoint_event row per save or load
// whatever the order of its lines, replays and repeats change nothing, the duration is the
// printed one or the time between the recorded start and the end; one EndTrain per run.

#include "storage/training_rows.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "storage/schema.h"
#include "support/checkpoint_rows.h"
#include "support/cluster_rows.h"
#include "support/temp_dir.h"

namespace tp::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

constexpr int64_t kT0 = 1761223152'123456;  // 2025-10-23 12:39:12.123456 UTC
constexpr int64_t kSecond = 1'000'000;

CheckpointLine line(CheckpointOperation operation, int64_t time_us,
                    std::optional<int64_t> duration_ms = std::nullopt, int64_t iteration = 100) {
  return {.workload_uid = "w-job",
          .pod_uid = "pod-0",
          .serial = 1,
          .iteration = iteration,
          .path = "/ckpt/iter_0000100",
          .operation = operation,
          .time_us = time_us,
          .duration_ms = duration_ms};
}

CheckpointLine saveStart(int64_t time_us, int64_t iteration = 100) {
  return line(CheckpointOperation::kSave, time_us, std::nullopt, iteration);
}
CheckpointLine saveEnd(int64_t time_us, std::optional<int64_t> duration_ms = std::nullopt,
                       int64_t iteration = 100) {
  return line(CheckpointOperation::kSave, time_us, duration_ms, iteration);
}
CheckpointLine loadStart(int64_t time_us) { return line(CheckpointOperation::kLoad, time_us); }
CheckpointLine loadEnd(int64_t time_us, std::optional<int64_t> duration_ms = std::nullopt) {
  return line(CheckpointOperation::kLoad, time_us, duration_ms);
}

class CheckpointRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::DbConfig config;
    config.path = (dir_ / "lens.db").string();
    auto database = Database::create(config);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(ensureSchema(*database_, nullptr).ok());
  }

  size_t start(std::vector<CheckpointLine> lines) {
    auto created = insertCheckpointStarts(*database_, lines);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.value_or(0);
  }

  std::vector<std::optional<int64_t>> end(std::vector<CheckpointLine> lines) {
    auto durations = completeCheckpoints(*database_, lines);
    EXPECT_TRUE(durations.ok()) << durations.status();
    return durations.value_or(std::vector<std::optional<int64_t>>{});
  }

  std::vector<testing::StoredCheckpoint> rows() { return testing::readCheckpoints(*database_); }

  testing::TempDir dir_;
  std::unique_ptr<Database> database_;
};

TEST_F(CheckpointRowsTest, ASaveStartIsInProgressUntilItsEndCompletesIt) {
  EXPECT_EQ(start({saveStart(kT0)}), 1u);
  auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].event_type, "start_saving");
  EXPECT_EQ(stored[0].status, "in_progress");
  EXPECT_THAT(stored[0].start_us, Optional(kT0));
  EXPECT_EQ(stored[0].end_us, std::nullopt);

  EXPECT_THAT(end({saveEnd(kT0 + 5 * kSecond + 500)}), ElementsAre(Optional(5000)));
  stored = rows();
  ASSERT_EQ(stored.size(), 1u) << "the start row gives way to the end row";
  const testing::StoredCheckpoint& save = stored[0];
  EXPECT_EQ(save.workload_uid, "w-job");
  EXPECT_EQ(save.pod_uuid, "pod-0");
  EXPECT_EQ(save.serial, 1);
  EXPECT_EQ(save.iteration, 100);
  EXPECT_EQ(save.checkpoint_path, "/ckpt/iter_0000100");
  EXPECT_EQ(save.event_type, "end_saving");
  EXPECT_EQ(save.status, "success");
  EXPECT_THAT(save.start_us, Optional(kT0));
  EXPECT_THAT(save.end_us, Optional(kT0 + 5 * kSecond + 500));
  EXPECT_THAT(save.created_us, Optional(kT0 + 5 * kSecond + 500));
  EXPECT_THAT(save.duration_ms, Optional(5000));
  EXPECT_EQ(save.size_bytes, std::nullopt);
  EXPECT_FALSE(save.is_fast_ckpt);
  EXPECT_EQ(save.metadata, R"({"source":"log"})");
}

TEST_F(CheckpointRowsTest, APrintedDurationWinsOverTheTimeSinceTheStart) {
  start({saveStart(kT0)});
  EXPECT_THAT(end({saveEnd(kT0 + 5 * kSecond, 4200)}), ElementsAre(Optional(4200)));
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_THAT(stored[0].duration_ms, Optional(4200));
  EXPECT_THAT(stored[0].start_us, Optional(kT0)) << "the recorded start dates it";
}

TEST_F(CheckpointRowsTest, AnEndBeforeItsStartLeavesOneCompleteRow) {
  EXPECT_THAT(end({saveEnd(kT0 + 3 * kSecond, 1500)}), ElementsAre(Optional(1500)));
  EXPECT_EQ(start({saveStart(kT0)}), 0u) << "the save has ended already";
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].event_type, "end_saving");
  EXPECT_EQ(stored[0].status, "success");
  EXPECT_THAT(stored[0].start_us, Optional(kT0 + 3 * kSecond - 1500 * 1000)) << "end - duration";
}

TEST_F(CheckpointRowsTest, AnEndAloneWithoutDurationHasNone) {
  EXPECT_THAT(end({saveEnd(kT0)}), ElementsAre(std::nullopt));
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].event_type, "end_saving");
  EXPECT_EQ(stored[0].duration_ms, std::nullopt);
  EXPECT_THAT(stored[0].start_us, Optional(kT0));
  EXPECT_THAT(stored[0].end_us, Optional(kT0));
}

TEST_F(CheckpointRowsTest, ReplaysChangeNothingAndReturnTheStoredDuration) {
  EXPECT_EQ(start({saveStart(kT0)}), 1u);
  EXPECT_EQ(start({saveStart(kT0)}), 0u);
  EXPECT_THAT(end({saveEnd(kT0 + 2 * kSecond)}), ElementsAre(Optional(2000)));
  // Replayed after the start row is gone, and a later copy from another rank: the stored row.
  EXPECT_THAT(end({saveEnd(kT0 + 2 * kSecond), saveEnd(kT0 + 9 * kSecond)}),
              ElementsAre(Optional(2000), Optional(2000)));
  EXPECT_EQ(start({saveStart(kT0)}), 0u);
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_THAT(stored[0].end_us, Optional(kT0 + 2 * kSecond));
}

TEST_F(CheckpointRowsTest, ManyRanksPrintingOneStartMakeOneRow) {
  std::vector<CheckpointLine> ranks(8, saveStart(kT0));
  for (size_t i = 0; i < ranks.size(); ++i) ranks[i].pod_uid = "pod-" + std::to_string(i);
  EXPECT_EQ(start(ranks), 1u);
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].pod_uuid, "pod-0") << "the first line of the batch";
}

TEST_F(CheckpointRowsTest, SavesOfOtherIterationsAndRunsAreOtherRows) {
  CheckpointLine next_run = saveStart(kT0);
  next_run.serial = 2;
  start({saveStart(kT0), saveStart(kT0 + 60 * kSecond, 200), next_run});
  EXPECT_THAT(end({saveEnd(kT0 + kSecond)}), ElementsAre(Optional(1000)));
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].event_type, "start_saving");
  EXPECT_EQ(stored[0].iteration, 200);
  EXPECT_EQ(stored[1].event_type, "start_saving");
  EXPECT_EQ(stored[1].serial, 2);
  EXPECT_EQ(stored[2].event_type, "end_saving");
}

TEST_F(CheckpointRowsTest, ALoadStartThenEndIsOneRowCompleted) {
  EXPECT_EQ(start({loadStart(kT0)}), 1u);
  EXPECT_EQ(start({loadStart(kT0)}), 0u);
  auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].event_type, "loading");
  EXPECT_EQ(stored[0].status, "in_progress");

  EXPECT_THAT(end({loadEnd(kT0 + 7 * kSecond)}), ElementsAre(Optional(7000)));
  EXPECT_THAT(end({loadEnd(kT0 + 7 * kSecond)}), ElementsAre(Optional(7000))) << "replayed";
  stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].event_type, "loading");
  EXPECT_EQ(stored[0].status, "success");
  EXPECT_THAT(stored[0].start_us, Optional(kT0));
  EXPECT_THAT(stored[0].end_us, Optional(kT0 + 7 * kSecond));
  EXPECT_THAT(stored[0].duration_ms, Optional(7000));
}

TEST_F(CheckpointRowsTest, ALoadEndBeforeItsStartIsOneCompleteRow) {
  EXPECT_THAT(end({loadEnd(kT0 + 4 * kSecond, 3000)}), ElementsAre(Optional(3000)));
  EXPECT_EQ(start({loadStart(kT0)}), 0u);
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].status, "success");
  EXPECT_THAT(stored[0].start_us, Optional(kT0 + kSecond));
  EXPECT_THAT(stored[0].duration_ms, Optional(3000));
}

TEST_F(CheckpointRowsTest, ALoadEndTakesItsPrintedDuration) {
  start({loadStart(kT0)});
  EXPECT_THAT(end({loadEnd(kT0 + 7 * kSecond, 6500)}), ElementsAre(Optional(6500)));
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_THAT(stored[0].duration_ms, Optional(6500));
  EXPECT_THAT(stored[0].start_us, Optional(kT0));
}

TEST_F(CheckpointRowsTest, OneBatchMixesSavesAndLoadsAndAnswersEveryEnd) {
  start({loadStart(kT0), saveStart(kT0 + 10 * kSecond)});
  EXPECT_THAT(end({saveEnd(kT0 + 12 * kSecond), loadEnd(kT0 + kSecond),
                   saveEnd(kT0 + 13 * kSecond, std::nullopt, 300)}),
              ElementsAre(Optional(2000), Optional(1000), std::nullopt));
  const auto stored = rows();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].event_type, "loading");
  EXPECT_EQ(stored[1].event_type, "end_saving");
  EXPECT_EQ(stored[2].event_type, "end_saving");
  EXPECT_EQ(stored[2].iteration, 300);
}

TEST_F(CheckpointRowsTest, TheUniqueKeyIsReportedAndItsDuplicatesDeduped) {
  auto missing = tablesWithoutUniqueKey(*database_);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  testing::exec(*database_, "DROP INDEX uq_tp_checkpoint_event_operation");
  for (int copy = 0; copy < 2; ++copy) {
    testing::exec(*database_,
                  "INSERT INTO checkpoint_event (workload_uid, serial, iteration, event_type) "
                  "VALUES ('w-job', 1, 100, 'end_saving')");
  }
  missing = tablesWithoutUniqueKey(*database_);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT(*missing, ElementsAre("checkpoint_event"));

  auto reports = dedupe(*database_, true);
  ASSERT_TRUE(reports.ok()) << reports.status();
  const auto checkpoints =
      std::find_if(reports->begin(), reports->end(),
                   [](const DuplicateReport& found) { return found.table == "checkpoint_event"; });
  ASSERT_NE(checkpoints, reports->end());
  const DuplicateReport& report = *checkpoints;
  EXPECT_EQ(report.table, "checkpoint_event");
  EXPECT_EQ(report.key, "workload_uid, serial, iteration, event_type");
  EXPECT_EQ(report.extra_rows, 1u);
  EXPECT_EQ(report.deleted_rows, 1u);
  EXPECT_TRUE(report.key_present);
  EXPECT_EQ(testing::queryNumber(*database_, "SELECT count(*) FROM checkpoint_event"), 1);
  missing = tablesWithoutUniqueKey(*database_);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
}

class RunEventsTest : public CheckpointRowsTest {};

TEST_F(RunEventsTest, OneEndTrainPerRunBesideItsStartTrain) {
  const RunEvent run1{.workload_uid = "w-job",
                      .nearest_workload_uid = "w-run1",
                      .pod_uid = "pod-0",
                      .run_serial = 1,
                      .time_us = kT0};
  RunEvent run2 = run1;
  run2.nearest_workload_uid = "w-run2";
  run2.run_serial = 2;
  const auto inserted = [](const absl::StatusOr<size_t>& count) {
    EXPECT_TRUE(count.ok()) << count.status();
    return count.value_or(0);
  };
  EXPECT_EQ(inserted(insertStartTrainEvents(*database_, std::vector{run1})), 1u);
  RunEvent ended = run1;
  ended.time_us = kT0 + 3600 * kSecond;
  EXPECT_EQ(inserted(insertEndTrainEvents(*database_, std::vector{ended, ended})), 1u);
  EXPECT_EQ(inserted(insertEndTrainEvents(*database_, std::vector{ended, run2})), 1u);
  EXPECT_EQ(testing::queryNumber(*database_,
                                 "SELECT count(*) FROM workload_event WHERE type = 'EndTrain'"),
            2);
  EXPECT_EQ(testing::queryNumber(*database_,
                                 "SELECT run_serial FROM workload_event WHERE type = 'EndTrain' "
                                 "AND nearest_workload_uid = 'w-run2'"),
            2);
  auto runs = loadRuns(*database_, "w-job");
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u) << "EndTrain events are no runs";
}

}  // namespace
}  // namespace tp::storage
