// The training writer on a real SQLite file: items reach the database through the row journal, a
// failed write is tried again on its own, items in the journal outlive the writer and are written
// by the next one, and a request that does not fit is refused whole. The writer's clock is
// simulated: flush intervals and retry waits pass when the test moves it.

#include "training/training_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <mutex>

#include "soci/soci.h"
#include "storage/schema.h"
#include "support/metrics_text.h"
#include "support/recording_sink.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp::training {
namespace {

using namespace std::chrono_literals;
using testing::RecordingSink;

TrainingItems rows(int first_iteration, int count) {
  TrainingItems items;
  for (int i = first_iteration; i < first_iteration + count; ++i) {
    items.performances.push_back({"w-job", "w-run", "pod-0",
                                  R"({"current_iteration":)" + std::to_string(i) + "}", i,
                                  1761223152000000 + int64_t{i} * 1'000'000});
  }
  return items;
}

class TrainingWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::DbConfig db;
    db.path = (dir_ / "lens.db").string();
    database_ = std::move(*storage::Database::create(db));
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
  }

  std::unique_ptr<TrainingWriter> open(SeriesOutput series = {}) {
    auto writer = TrainingWriter::create(
        *database_, config_,
        queue::DiskQueueOptions{.dir = dir_ / "journal",
                                .max_bytes = config::QueueConfig{}.max_disk_usage},
        deadLetterFile(), telemetry_.trainingWriteMetrics(), series, clock_);
    EXPECT_TRUE(writer.ok()) << writer.status();
    return std::move(*writer);
  }

  std::filesystem::path deadLetterFile() const { return dir_ / "rejected.jsonl"; }

  long long count(const std::string& where_sql) {
    long long count = -1;
    (void)database_->run(
        [&](soci::session& sql) { sql << "SELECT count(*) FROM " + where_sql, soci::into(count); });
    return count;
  }

  long long stored() {
    long long count = -1;
    (void)database_->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM training_performance", soci::into(count);
    });
    return count;
  }

  // Moves the writer's clock on until `condition` holds.
  bool advanceUntil(const std::function<bool()>& condition) {
    return testing::advanceUntil(clock_, 1s, condition);
  }

  // The rows table goes away (writes fail) and comes back.
  ::testing::AssertionResult hideRowsTable() { return rename("training_performance", "rows_away"); }
  ::testing::AssertionResult restoreRowsTable() {
    return rename("rows_away", "training_performance");
  }
  ::testing::AssertionResult rename(const std::string& from, const std::string& to) {
    const absl::Status renamed = database_->run(
        [&](soci::session& sql) { sql << "ALTER TABLE " + from + " RENAME TO " + to; });
    if (renamed.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << renamed;
  }

  testing::SimulatedClock clock_;
  testing::TempDir dir_{"tp-writer-"};
  std::unique_ptr<storage::Database> database_;
  config::TrainingConfig config_;
  telemetry::Telemetry telemetry_{"test"};
};

TEST_F(TrainingWriterTest, SubmittedRowsReachTheDatabaseAndLeaveTheJournal) {
  auto writer = open();
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  ASSERT_TRUE(writer->submit(rows(4, 2)).ok());
  EXPECT_TRUE(advanceUntil([&] { return stored() == 5; }));
  EXPECT_TRUE(testing::waitFor([&] { return writer->pending() == 0; }));
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, AFailedWriteIsRetriedWithoutNewSubmissions) {
  ASSERT_TRUE(hideRowsTable());
  auto writer = open();
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  EXPECT_TRUE(advanceUntil([&] {
    return testing::metricValue(telemetry_.exposition(), "database_write_errors_total") >= 2;
  }));
  ASSERT_TRUE(restoreRowsTable());  // the database is back
  EXPECT_TRUE(advanceUntil([&] { return stored() == 3; }));
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, JournaledRowsOutliveTheWriterAndAreWrittenByTheNextOne) {
  ASSERT_TRUE(hideRowsTable());
  {
    auto writer = open();
    writer->start();
    ASSERT_TRUE(writer->submit(rows(1, 4)).ok());
    writer->stop(0ms);  // the database is unavailable: the rows stay in the journal
    EXPECT_EQ(writer->pending(), 4u);
  }
  ASSERT_TRUE(restoreRowsTable());
  auto writer = open();
  EXPECT_EQ(writer->pending(), 4u);
  writer->start();
  EXPECT_TRUE(advanceUntil([&] { return stored() == 4; }));
  EXPECT_TRUE(testing::waitFor([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(stored(), 4);
}

TEST_F(TrainingWriterTest, ARequestThatDoesNotFitIsRefusedWhole) {
  config_.buffer_rows = 5;
  ASSERT_TRUE(hideRowsTable());  // nothing drains
  auto writer = open();
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  const absl::Status refused = writer->submit(rows(4, 3));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("training.bufferRows"));
  EXPECT_EQ(writer->pending(), 3u);
  ASSERT_TRUE(writer->submit(rows(4, 2)).ok());  // what fits is taken
  ASSERT_TRUE(restoreRowsTable());
  EXPECT_TRUE(advanceUntil([&] { return stored() == 5; }));
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, ARowTheDatabaseRefusesIsSetAsideAndTheRestIsWritten) {
  // A Lens-like column: the iteration must fit a 32-bit integer.
  ASSERT_TRUE(database_
                  ->run([](soci::session& sql) {
                    sql << "DROP TABLE training_performance";
                    sql << "CREATE TABLE training_performance (id INTEGER PRIMARY KEY "
                           "AUTOINCREMENT, pod_uuid TEXT, performance TEXT, iteration INTEGER "
                           "CHECK (iteration BETWEEN -2147483648 AND 2147483647), created_at "
                           "TIMESTAMP, serial INTEGER, workload_uid TEXT)";
                  })
                  .ok());
  auto writer = open();
  writer->start();
  TrainingItems items = rows(1, 5);
  items.performances[2].iteration = (int64_t{1} << 31) + 7;
  ASSERT_TRUE(writer->submit(items).ok());
  EXPECT_TRUE(advanceUntil([&] { return stored() == 4; }));
  EXPECT_TRUE(testing::waitFor([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(testing::metricValue(telemetry_.exposition(),
                                 R"(training_rows_rejected_total\{table="training_performance"\})"),
            1);
  std::ifstream file(deadLetterFile());
  std::string line;
  ASSERT_TRUE(std::getline(file, line)) << "the refused row is in the dead-letter file";
  EXPECT_THAT(line, ::testing::HasSubstr(R"("table":"training_performance")"));
  EXPECT_THAT(line, ::testing::HasSubstr(R"("iteration":2147483655)"));
  EXPECT_THAT(line, ::testing::HasSubstr("CHECK constraint failed"));
  EXPECT_FALSE(std::getline(file, line)) << "only that row: " << line;
}

// What another replica wrote to the shared database: a run of the workload.
::testing::AssertionResult recordRun(storage::Database& database, const std::string& nearest,
                                     int serial) {
  const absl::Status recorded = database.run([&](soci::session& sql) {
    sql << "INSERT INTO workload_event (workload_uid, type, run_serial, created_at, pod_uid, "
           "nearest_workload_uid) VALUES ('w-job', 'StartTrain', :s, '2025-10-23 12:00:00', "
           "'pod-0', :n)",
        soci::use(serial), soci::use(nearest);
  });
  if (recorded.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << recorded;
}

TEST_F(TrainingWriterTest, TwoNewRunsOfAWorkloadInOneBatchTakeConsecutiveSerials) {
  auto writer = open();
  writer->start();
  TrainingItems items;
  items.starts.push_back({"w-job", "w-run", "pod-0", 1761223152000000});
  items.starts.push_back({"w-job", "w-run-2", "pod-1", 1761223252000000});
  items.performances.push_back(
      {"w-job", "w-run-2", "pod-1", R"({"current_iteration":11})", 11, 1761223253000000, {}});
  ASSERT_TRUE(writer->submit(items).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(count("workload_event WHERE nearest_workload_uid = 'w-run' AND run_serial = 1"), 1);
  EXPECT_EQ(count("workload_event WHERE nearest_workload_uid = 'w-run-2' AND run_serial = 2"), 1);
  EXPECT_EQ(count("training_performance WHERE serial = 2 AND iteration = 11"), 1);
}

PendingLifecycle lifecycle(LifecycleKind kind, std::optional<int64_t> iteration, int64_t time_us,
                           std::optional<int64_t> duration_ms = std::nullopt) {
  return {"w-job", "w-run", "pod-0", kind, iteration, "/ckpt", duration_ms, time_us, {}};
}

TEST_F(TrainingWriterTest, LifecycleLinesBecomeCheckpointOperationsAndOneEndTrainPerRun) {
  auto writer = open();
  writer->start();
  TrainingItems items;
  items.lifecycles.push_back(lifecycle(LifecycleKind::kCheckpointSaveStart, 10, 1761223152000000));
  items.lifecycles.push_back(lifecycle(LifecycleKind::kCheckpointSaveEnd, 10, 1761223155000000));
  ASSERT_TRUE(writer->submit(items).ok());
  TrainingItems later;
  later.lifecycles.push_back(lifecycle(LifecycleKind::kCheckpointLoadStart, 10, 1761223160000000));
  later.lifecycles.push_back(
      lifecycle(LifecycleKind::kCheckpointLoadEnd, 10, 1761223161000000, 800));
  // Every rank prints the end of training.
  later.lifecycles.push_back(lifecycle(LifecycleKind::kEnd, std::nullopt, 1761223170000000));
  later.lifecycles.push_back(lifecycle(LifecycleKind::kEnd, std::nullopt, 1761223170000001));
  ASSERT_TRUE(writer->submit(later).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(count("checkpoint_event"), 2);
  EXPECT_EQ(count("checkpoint_event WHERE event_type = 'end_saving' AND status = 'success' AND "
                  "duration_ms = 3000 AND iteration = 10 AND serial = 1"),
            1);
  EXPECT_EQ(count("checkpoint_event WHERE event_type = 'loading' AND status = 'success' AND "
                  "duration_ms = 800"),
            1);
  EXPECT_EQ(count("workload_event WHERE type = 'EndTrain' AND run_serial = 1"), 1);
  EXPECT_EQ(count("workload_event"), 1);
}

TEST_F(TrainingWriterTest, ASaveThatNamesNoIterationTakesTheLastOneLoggedBeforeIt) {
  auto writer = open();
  writer->start();
  TrainingItems items = rows(1, 20);  // iteration i at second i
  // TorchTitan's "Saving the checkpoint ..." and "Finished saving ... in 2.00 seconds." after step
  // 10, while steps 11.. follow in the same batch.
  items.lifecycles.push_back(
      lifecycle(LifecycleKind::kCheckpointSaveStart, std::nullopt, 1761223152000000 + 10'500'000));
  items.lifecycles.push_back(lifecycle(LifecycleKind::kCheckpointSaveEnd, std::nullopt,
                                       1761223152000000 + 10'700'000, 2000));
  ASSERT_TRUE(writer->submit(items).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(count("checkpoint_event"), 1);
  EXPECT_EQ(count("checkpoint_event WHERE iteration = 10 AND event_type = 'end_saving' AND "
                  "duration_ms = 2000"),
            1);
}

TEST_F(TrainingWriterTest, ALoadEndThatNamesNoIterationCompletesTheLoadInProgress) {
  auto writer = open();
  writer->start();
  // TorchTitan: "Loading the checkpoint from .../step-1000." then "Finished loading the checkpoint
  // in 8.50 seconds.", in two batches.
  TrainingItems first;
  first.lifecycles.push_back(
      lifecycle(LifecycleKind::kCheckpointLoadStart, 1000, 1761223152000000));
  ASSERT_TRUE(writer->submit(first).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  TrainingItems second;
  second.lifecycles.push_back(
      lifecycle(LifecycleKind::kCheckpointLoadEnd, std::nullopt, 1761223160500000, 8500));
  ASSERT_TRUE(writer->submit(second).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(count("checkpoint_event"), 1);
  EXPECT_EQ(count("checkpoint_event WHERE iteration = 1000 AND event_type = 'loading' AND "
                  "status = 'success' AND duration_ms = 8500"),
            1);
}

TEST_F(TrainingWriterTest, AnImplausiblePrintedDurationIsReplacedByTheTimeBetweenTheLines) {
  auto writer = open();
  writer->start();
  TrainingItems items;
  items.lifecycles.push_back(lifecycle(LifecycleKind::kCheckpointSaveStart, 10, 1761223152000000));
  // "in 10000000000000 seconds": more than a month, and beyond what a time can subtract.
  items.lifecycles.push_back(lifecycle(LifecycleKind::kCheckpointSaveEnd, 10, 1761223154000000,
                                       int64_t{10'000'000'000'000} * 1000));
  ASSERT_TRUE(writer->submit(items).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(count("checkpoint_event WHERE event_type = 'end_saving' AND duration_ms = 2000"), 1);
}

TEST_F(TrainingWriterTest, ABatchsSeriesGoToTheForwarderWithTheSerialOfItsRun) {
  ASSERT_TRUE(recordRun(*database_, "w-run", 4));  // another replica recorded this run
  RecordingSink sink(2);
  auto writer = open({&sink, telemetry_.trainingSeriesMetrics()});
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  ASSERT_TRUE(advanceUntil([&] { return sink.samples() == 3; }));  // one field per row
  EXPECT_EQ(stored(), 3);
  const std::string bytes = sink.bytes();
  EXPECT_NE(bytes.find("workload_training_iteration"), std::string::npos);
  EXPECT_NE(bytes.find(std::string("\x03run\x12\x01"
                                   "4",
                                   7)),
            std::string::npos)
      << "label run=\"4\"";
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, AnIterationAPodLoggedTwiceIsOneSample) {
  RecordingSink sink(1);
  auto writer = open({&sink, telemetry_.trainingSeriesMetrics()});
  writer->start();
  TrainingItems items = rows(1, 2);
  TrainingItems repeated = rows(2, 1);  // iteration 2 again, from a second log sink, later
  repeated.performances[0].time_us += 250'000;
  items.performances.push_back(repeated.performances[0]);
  ASSERT_TRUE(writer->submit(items).ok());
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(sink.samples(), 2u);
  EXPECT_EQ(stored(), 2);
  EXPECT_EQ(testing::metricValue(telemetry_.exposition(),
                                 R"(training_series_samples_total\{outcome="queued"\})"),
            2);
}

TEST_F(TrainingWriterTest, SeriesTheForwarderRefusesKeepTheirBatchUntilItTakesThem) {
  RecordingSink sink(1);
  sink.refuse(true);
  auto writer = open({&sink, telemetry_.trainingSeriesMetrics()});
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  ASSERT_TRUE(advanceUntil([&] {
    return testing::metricValue(telemetry_.exposition(), "training_series_submit_failures_total")
               .value_or(0) >= 2;
  }));
  EXPECT_EQ(stored(), 3);  // written once; retried as a whole, which changes no row
  EXPECT_EQ(writer->pending(), 3u);
  sink.refuse(false);
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  EXPECT_EQ(sink.samples(), 3u);
  EXPECT_EQ(stored(), 3);
  // Counted once, though encoded on every attempt.
  EXPECT_EQ(testing::metricValue(telemetry_.exposition(),
                                 R"(training_series_samples_total\{outcome="queued"\})"),
            3);
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, RunsRecordedByAnotherReplicaDecideTheSerial) {
  auto writer = open();
  writer->start();
  TrainingItems first;
  first.starts.push_back({"w-job", "w-run", "pod-0", 1761223152000000});
  ASSERT_TRUE(writer->submit(first).ok());
  ASSERT_TRUE(writer->submit(rows(1, 1)).ok());
  ASSERT_TRUE(advanceUntil([&] { return stored() == 1; }));
  ASSERT_TRUE(recordRun(*database_, "w-run-2", 2));
  ASSERT_TRUE(recordRun(*database_, "w-run-3", 3));
  // Run 3's iteration lines reach this writer; its start went to the other replica.
  TrainingItems third = rows(1, 3);
  for (auto& row : third.performances) row.nearest_workload_uid = "w-run-3";
  ASSERT_TRUE(writer->submit(third).ok());
  ASSERT_TRUE(advanceUntil([&] { return stored() == 4; }));
  writer->stop(1s);
  long long under_run_3 = 0;
  ASSERT_TRUE(database_
                  ->run([&](soci::session& sql) {
                    sql << "SELECT count(*) FROM training_performance WHERE serial = 3",
                        soci::into(under_run_3);
                  })
                  .ok());
  EXPECT_EQ(under_run_3, 3);
}

TEST_F(TrainingWriterTest, AStartAnotherReplicaRecordedFirstKeepsItsSerial) {
  ASSERT_TRUE(recordRun(*database_, "w-run", 7));  // the other replica won the race for this run
  auto writer = open();
  writer->start();
  TrainingItems start;
  start.starts.push_back({"w-job", "w-run", "pod-0", 1761223152000000});
  ASSERT_TRUE(writer->submit(start).ok());
  ASSERT_TRUE(writer->submit(rows(1, 2)).ok());
  ASSERT_TRUE(advanceUntil([&] { return stored() == 2; }));
  writer->stop(1s);
  long long events = 0, under_7 = 0;
  ASSERT_TRUE(database_
                  ->run([&](soci::session& sql) {
                    sql << "SELECT count(*) FROM workload_event", soci::into(events);
                    sql << "SELECT count(*) FROM training_performance WHERE serial = 7",
                        soci::into(under_7);
                  })
                  .ok());
  EXPECT_EQ(events, 1);
  EXPECT_EQ(under_7, 2);
  EXPECT_EQ(testing::metricValue(telemetry_.exposition(), "workload_event_create_count"), 0);
}

TEST_F(TrainingWriterTest, WithoutUniqueKeysRowsAreStillWrittenOnce) {
  ASSERT_TRUE(database_
                  ->run([](soci::session& sql) {
                    sql << "DROP INDEX uq_tp_training_performance_iteration";
                    sql << "DROP INDEX uq_tp_workload_event_run";
                  })
                  .ok());
  auto writer = open();
  writer->start();
  TrainingItems items = rows(1, 3);
  TrainingItems again = rows(1, 3);
  items.performances.insert(items.performances.end(), again.performances.begin(),
                            again.performances.end());  // ranks repeat the same lines
  ASSERT_TRUE(writer->submit(items).ok());
  ASSERT_TRUE(advanceUntil([&] { return stored() == 3 && writer->pending() == 0; }));
  ASSERT_TRUE(writer->submit(rows(2, 3)).ok());  // a batch sent again, and one new iteration
  ASSERT_TRUE(advanceUntil([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(stored(), 4);
}

}  // namespace
}  // namespace tp::training
