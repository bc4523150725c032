// The training writer on a real SQLite file: items reach the database through the row journal, a
// failed write is tried again on its own, items in the journal outlive the writer and are written
// by the next one, and a request that does not fit is refused whole.

#include "training/training_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "soci/soci.h"
#include "storage/schema.h"
#include "support/temp_dir.h"

namespace tp::training {
namespace {

using namespace std::chrono_literals;

bool waitFor(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TrainingItems rows(int first_iteration, int count) {
  TrainingItems items;
  for (int i = first_iteration; i < first_iteration + count; ++i) {
    items.performances.push_back({"w-job", "w-run", "pod-0",
                                  R"({"current_iteration":)" + std::to_string(i) + "}", i,
                                  1761223152000000 + i});
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
    config_.flush_interval = 5ms;
    config_.retry_max_backoff = 50ms;
  }

  std::unique_ptr<TrainingWriter> open() {
    auto writer = TrainingWriter::create(*database_, config_,
                                         forward::DiskQueueOptions{.dir = dir_ / "journal"},
                                         telemetry_.trainingWriteMetrics());
    EXPECT_TRUE(writer.ok()) << writer.status();
    return std::move(*writer);
  }

  long long stored() {
    long long count = -1;
    (void)database_->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM training_performance", soci::into(count);
    });
    return count;
  }

  // The rows table goes away (writes fail) and comes back.
  void hideRowsTable() { rename("training_performance", "rows_away"); }
  void restoreRowsTable() { rename("rows_away", "training_performance"); }
  void rename(const std::string& from, const std::string& to) {
    ASSERT_TRUE(
        database_
            ->run([&](soci::session& sql) { sql << "ALTER TABLE " + from + " RENAME TO " + to; })
            .ok());
  }

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
  EXPECT_TRUE(waitFor([&] { return stored() == 5; }));
  EXPECT_TRUE(waitFor([&] { return writer->pending() == 0; }));
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, AFailedWriteIsRetriedWithoutNewSubmissions) {
  hideRowsTable();
  auto writer = open();
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  EXPECT_TRUE(waitFor([&] {
    return telemetry_.exposition().find("database_write_errors_total 0") == std::string::npos;
  }));
  restoreRowsTable();  // the database is back
  EXPECT_TRUE(waitFor([&] { return stored() == 3; }));
  writer->stop(1s);
}

TEST_F(TrainingWriterTest, JournaledRowsOutliveTheWriterAndAreWrittenByTheNextOne) {
  hideRowsTable();
  {
    auto writer = open();
    writer->start();
    ASSERT_TRUE(writer->submit(rows(1, 4)).ok());
    writer->stop(0ms);  // the database is unavailable: the rows stay in the journal
    EXPECT_EQ(writer->pending(), 4u);
  }
  restoreRowsTable();
  auto writer = open();
  EXPECT_EQ(writer->pending(), 4u);
  writer->start();
  EXPECT_TRUE(waitFor([&] { return stored() == 4; }));
  EXPECT_TRUE(waitFor([&] { return writer->pending() == 0; }));
  writer->stop(1s);
  EXPECT_EQ(stored(), 4);
}

TEST_F(TrainingWriterTest, ARequestThatDoesNotFitIsRefusedWhole) {
  config_.buffer_rows = 5;
  hideRowsTable();  // nothing drains
  auto writer = open();
  writer->start();
  ASSERT_TRUE(writer->submit(rows(1, 3)).ok());
  const absl::Status refused = writer->submit(rows(4, 3));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("training.bufferRows"));
  EXPECT_EQ(writer->pending(), 3u);
  ASSERT_TRUE(writer->submit(rows(4, 2)).ok());  // what fits is taken
  restoreRowsTable();
  EXPECT_TRUE(waitFor([&] { return stored() == 5; }));
  writer->stop(1s);
}

}  // namespace
}  // namespace tp::training
