// The schema maintainer against SQLite files, on a simulated clock: a failing migration is
// counted and tried again until it succeeds, a unique key that duplicates block is tried less and
// less often and reported missing until the duplicates are gone, and an unreachable database is
// tried every second until it answers.

#include "storage/schema_maintainer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp::storage {
namespace {

using namespace std::chrono_literals;

class SchemaMaintainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = open(dir_ / "lens.db");
    ASSERT_TRUE(ensureSchema(*database_, nullptr).ok());
  }

  static std::unique_ptr<Database> open(const std::filesystem::path& path) {
    config::DbConfig config;
    config.path = path.string();
    config.timeout = 2s;
    auto database = Database::create(config);
    EXPECT_TRUE(database.ok()) << database.status();
    return database.ok() ? std::move(*database) : nullptr;
  }

  double failures() const { return metrics_.migration_failures->Value(); }
  // What an older writer left: two copies of one row, so the unique key cannot be created.
  void leaveTwoCopiesOfOneRowWithoutTheirUniqueKey() {
    testing::exec(*database_, "DROP INDEX uq_tp_training_performance_iteration");
    testing::exec(*database_, "DELETE FROM tp_schema_migrations WHERE version = 3");
    for (int copy = 0; copy < 2; ++copy) {
      testing::exec(*database_,
                    "INSERT INTO training_performance (workload_uid, serial, iteration) VALUES "
                    "('w-job', 1, 1)");
    }
  }
  double uniqueKeyMissing(const std::string& table) const {
    return metrics_.unique_key_missing->Add({{"table", table}}).Value();
  }
  long long appliedMigrations(Database& database) {
    return testing::queryNumber(database, "SELECT count(*) FROM tp_schema_migrations");
  }
  // Moves the clock to the next attempt and waits for it to have failed.
  void expectAnotherFailureAfter(SchemaMaintainer& maintainer, std::chrono::seconds delay) {
    const double before = failures();
    EXPECT_EQ(maintainer.nextAttempt() - clock_.now(), delay);
    clock_.advance(delay);
    EXPECT_TRUE(testing::waitFor([&] { return failures() == before + 1; }));
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> database_;
  telemetry::Telemetry telemetry_{"test"};
  const telemetry::SchemaMetrics metrics_ = telemetry_.schemaMetrics();
  testing::SimulatedClock clock_;
};

TEST_F(SchemaMaintainerTest, ACompleteSchemaIsReadyAtOnce) {
  SchemaMaintainer maintainer(*database_, 20s, metrics_, clock_);
  maintainer.start();
  EXPECT_TRUE(maintainer.ready());
  EXPECT_EQ(failures(), 0);
  EXPECT_EQ(uniqueKeyMissing("training_performance"), 0);
  EXPECT_EQ(uniqueKeyMissing("workload_event"), 0);
}

TEST_F(SchemaMaintainerTest, AFailingMigrationIsCountedAndTriedAgainUntilItSucceeds) {
  // A migrations table the migration code cannot read: every attempt fails.
  testing::exec(*database_, "DROP TABLE tp_schema_migrations");
  testing::exec(*database_, "CREATE TABLE tp_schema_migrations (unexpected INTEGER)");
  SchemaMaintainer maintainer(*database_, 1h, metrics_, clock_);
  maintainer.start();
  EXPECT_FALSE(maintainer.ready());
  EXPECT_EQ(failures(), 1);
  expectAnotherFailureAfter(maintainer, 1h);

  // Repaired: the next attempt migrates, and it is the last.
  testing::exec(*database_, "DROP TABLE tp_schema_migrations");
  clock_.advance(1h);
  ASSERT_TRUE(testing::waitFor([&] { return maintainer.ready(); }));
  EXPECT_EQ(failures(), 2);
  EXPECT_EQ(appliedMigrations(*database_), static_cast<long long>(migrationNames().size()));
}

TEST_F(SchemaMaintainerTest, AUniqueKeyThatDuplicatesBlockIsTriedLessAndLessOften) {
  leaveTwoCopiesOfOneRowWithoutTheirUniqueKey();
  SchemaMaintainer maintainer(*database_, 20s, metrics_, clock_);
  maintainer.start();
  EXPECT_FALSE(maintainer.ready());
  EXPECT_EQ(failures(), 1);
  EXPECT_EQ(uniqueKeyMissing("training_performance"), 1);
  EXPECT_EQ(uniqueKeyMissing("workload_event"), 0);
  // One interval, one again, then two, four...: each attempt scans the table.
  expectAnotherFailureAfter(maintainer, 20s);
  expectAnotherFailureAfter(maintainer, 20s);
  expectAnotherFailureAfter(maintainer, 40s);
  expectAnotherFailureAfter(maintainer, 80s);
  EXPECT_EQ(maintainer.nextAttempt() - clock_.now(), 160s);
  EXPECT_EQ(uniqueKeyMissing("training_performance"), 1);

  // The duplicate removed (what `db dedupe --apply` does): the next attempt creates the key.
  testing::exec(*database_,
                "DELETE FROM training_performance WHERE id = (SELECT max(id) FROM "
                "training_performance)");
  clock_.advance(160s);
  ASSERT_TRUE(testing::waitFor([&] { return maintainer.ready(); }));
  EXPECT_EQ(failures(), 5);
  EXPECT_EQ(uniqueKeyMissing("training_performance"), 0);
  EXPECT_EQ(appliedMigrations(*database_), static_cast<long long>(migrationNames().size()));
}

TEST_F(SchemaMaintainerTest, RetriesAreCappedAtTenMinutes) {
  leaveTwoCopiesOfOneRowWithoutTheirUniqueKey();
  SchemaMaintainer maintainer(*database_, 4min, metrics_, clock_);
  maintainer.start();
  expectAnotherFailureAfter(maintainer, 4min);
  expectAnotherFailureAfter(maintainer, 4min);
  expectAnotherFailureAfter(maintainer, 8min);
  expectAnotherFailureAfter(maintainer, 10min);
  EXPECT_EQ(maintainer.nextAttempt() - clock_.now(), 10min);
}

TEST_F(SchemaMaintainerTest, AnUnreachableDatabaseIsTriedEverySecondUntilItAnswers) {
  // SQLite cannot open a directory as its file.
  const std::filesystem::path away = dir_ / "away.db";
  std::filesystem::create_directories(away);
  auto database = open(away);
  SchemaMaintainer maintainer(*database, 1h, metrics_, clock_);
  maintainer.start();
  EXPECT_FALSE(maintainer.ready());
  EXPECT_EQ(failures(), 1);
  expectAnotherFailureAfter(maintainer, 1s);

  // It answers (a new, empty database): the next attempt creates every table.
  std::filesystem::remove(away);
  clock_.advance(1s);
  ASSERT_TRUE(testing::waitFor([&] { return maintainer.ready(); }));
  EXPECT_EQ(failures(), 2);
  EXPECT_EQ(appliedMigrations(*database), static_cast<long long>(migrationNames().size()));
}

}  // namespace
}  // namespace tp::storage
