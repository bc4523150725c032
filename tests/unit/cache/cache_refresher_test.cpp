// The refresher against SQLite files: each database read is saved, a refresher that cannot read
// its database at start serves the saved snapshot (with its age on an injected clock) until the
// database answers, and a failing schema migration neither blocks the reads nor is given up.

#include "cache/cache_refresher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/temp_dir.h"

namespace tp::cache {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

class CacheRefresherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = open(dir_ / "lens.db");
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    testing::insertTrainingPod(*database_);
  }

  static std::unique_ptr<storage::Database> open(const std::filesystem::path& path) {
    config::DbConfig config;
    config.path = path.string();
    config.timeout = 2s;
    auto database = storage::Database::create(config);
    EXPECT_TRUE(database.ok()) << database.status();
    return database.ok() ? std::move(*database) : nullptr;
  }

  // A database that is away: SQLite cannot open a directory as its file.
  std::unique_ptr<storage::Database> openUnreachable() {
    std::filesystem::create_directories(unreachable_);
    return open(unreachable_);
  }

  std::unique_ptr<CacheRefresher> refresher(storage::Database& database,
                                            telemetry::Telemetry& telemetry) {
    return std::make_unique<CacheRefresher>(database, 1h, telemetry.cacheMetrics(), file_,
                                            [this] { return now_; });
  }

  static bool resolvesTrainingPod(const CacheRefresher& refresher) {
    const PodRef* pod = refresher.snapshot()->podOfDevice("node-a", DeviceLabel::kGpuId, "0");
    return pod != nullptr && pod->workloads_by_uid != nullptr &&
           pod->workloads_by_uid->front()->uid == "w-job";
  }

  testing::TempDir dir_;
  const std::filesystem::path file_ = dir_ / "queue" / "cluster-snapshot.bin";
  const std::filesystem::path unreachable_ = dir_ / "away.db";
  std::unique_ptr<storage::Database> database_;
  system_clock::time_point now_{std::chrono::seconds(1'761'223'000)};
};

TEST_F(CacheRefresherTest, StartsFromTheSavedSnapshotUntilTheDatabaseAnswers) {
  {
    telemetry::Telemetry telemetry("test");
    auto first = refresher(*database_, telemetry);
    ASSERT_TRUE(first->refreshNow().ok());
    EXPECT_EQ(first->origin().source, SnapshotSource::kDatabase);
    EXPECT_EQ(first->origin().age, 0s);
    ASSERT_TRUE(std::filesystem::exists(file_));
  }

  // A restart while the database is away, 90 s after that read.
  now_ += 90s;
  auto away = openUnreachable();
  telemetry::Telemetry telemetry("test");
  const telemetry::CacheMetrics metrics = telemetry.cacheMetrics();
  CacheRefresher second(*away, 1h, metrics, file_, [this] { return now_; });
  EXPECT_FALSE(second.loaded());
  EXPECT_EQ(second.origin().source, SnapshotSource::kNone);
  EXPECT_FALSE(second.refreshNow().ok());
  ASSERT_TRUE(second.loaded());
  EXPECT_EQ(second.origin().source, SnapshotSource::kFile);
  EXPECT_EQ(second.origin().age, 90s);
  EXPECT_TRUE(resolvesTrainingPod(second));
  EXPECT_EQ(metrics.refresh_failures->Value(), 1);
  EXPECT_EQ(metrics.device_entries->Value(), 1);
  // The age grows with the clock while the database stays away; the file is kept.
  now_ += 30s;
  EXPECT_FALSE(second.refreshNow().ok());
  EXPECT_EQ(second.origin().source, SnapshotSource::kFile);
  EXPECT_EQ(second.origin().age, 120s);
  EXPECT_TRUE(resolvesTrainingPod(second));

  // The database answers (a fresh, empty one here): its state replaces the file's, and is saved.
  std::filesystem::remove(unreachable_);
  now_ += 5s;
  ASSERT_TRUE(second.refreshNow().ok());
  EXPECT_EQ(second.origin().source, SnapshotSource::kDatabase);
  EXPECT_EQ(second.origin().age, 0s);
  EXPECT_FALSE(resolvesTrainingPod(second));
  EXPECT_EQ(metrics.last_success_timestamp->Value(),
            std::chrono::duration<double>(now_.time_since_epoch()).count());
  now_ += 7s;
  EXPECT_EQ(second.origin().age, 7s);
}

TEST_F(CacheRefresherTest, NoSavedSnapshotLeavesItUnloaded) {
  auto away = openUnreachable();
  telemetry::Telemetry telemetry("test");
  auto refresher = this->refresher(*away, telemetry);
  EXPECT_FALSE(refresher->refreshNow().ok());
  EXPECT_FALSE(refresher->loaded());
  EXPECT_EQ(refresher->origin().source, SnapshotSource::kNone);
}

TEST_F(CacheRefresherTest, DamagedSavedSnapshotIsIgnored) {
  {
    telemetry::Telemetry telemetry("test");
    ASSERT_TRUE(refresher(*database_, telemetry)->refreshNow().ok());
  }
  std::filesystem::resize_file(file_, std::filesystem::file_size(file_) - 1);
  auto away = openUnreachable();
  telemetry::Telemetry telemetry("test");
  auto refresher = this->refresher(*away, telemetry);
  EXPECT_FALSE(refresher->refreshNow().ok());
  EXPECT_FALSE(refresher->loaded());
  EXPECT_EQ(refresher->snapshot()->deviceCount(), 0u);

  std::ofstream(file_, std::ios::trunc) << "not a snapshot";
  telemetry::Telemetry fresh("test");
  auto again = this->refresher(*away, fresh);
  EXPECT_FALSE(again->refreshNow().ok());
  EXPECT_FALSE(again->loaded());
}

TEST_F(CacheRefresherTest, FailingSchemaMigrationIsCountedRetriedAndDoesNotStopTheReads) {
  // A migrations table the migration code cannot read: every ensureSchema fails, while the
  // tables the caches read are all there.
  testing::exec(*database_, "DROP TABLE tp_schema_migrations");
  testing::exec(*database_, "CREATE TABLE tp_schema_migrations (unexpected INTEGER)");
  telemetry::Telemetry telemetry("test");
  const telemetry::CacheMetrics metrics = telemetry.cacheMetrics();
  CacheRefresher refresher(*database_, 1h, metrics, file_, [this] { return now_; });
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_TRUE(refresher.loaded());
  EXPECT_EQ(refresher.origin().source, SnapshotSource::kDatabase);
  EXPECT_TRUE(resolvesTrainingPod(refresher));
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 1);
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 2);  // tried again

  // Repaired: the next refresh migrates, and later ones no longer try.
  testing::exec(*database_, "DROP TABLE tp_schema_migrations");
  ASSERT_TRUE(refresher.refreshNow().ok());
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 2);
  EXPECT_EQ(testing::queryNumber(*database_, "SELECT count(*) FROM tp_schema_migrations"),
            static_cast<long long>(storage::migrationNames().size()));
  EXPECT_EQ(metrics.refresh_failures->Value(), 0);
}

TEST_F(CacheRefresherTest, AUniqueKeyThatDuplicatesBlockIsTriedLessAndLessOften) {
  // An older writer left two copies of one row, so the unique key cannot be created.
  testing::exec(*database_, "DROP INDEX uq_tp_training_performance_iteration");
  testing::exec(*database_, "DELETE FROM tp_schema_migrations WHERE version = 3");
  for (int copy = 0; copy < 2; ++copy) {
    testing::exec(*database_,
                  "INSERT INTO training_performance (workload_uid, serial, iteration) VALUES "
                  "('w-job', 1, 1)");
  }
  telemetry::Telemetry telemetry("test");
  const telemetry::CacheMetrics metrics = telemetry.cacheMetrics();
  CacheRefresher refresher(*database_, 20s, metrics, file_, [this] { return now_; });
  const auto missing = [&] {
    return metrics.unique_key_missing->Add({{"table", "training_performance"}}).Value();
  };
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_TRUE(resolvesTrainingPod(refresher));
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 1);
  EXPECT_EQ(missing(), 1);
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 2);  // tried again at the next refresh
  // Then after one interval, two, four...: each attempt scans the table.
  now_ += 19s;
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 2);
  now_ += 1s;
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 3);
  now_ += 39s;
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 3);
  now_ += 1s;
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 4);

  // The duplicate removed (what `db dedupe --apply` does): the next attempt creates the key.
  testing::exec(*database_,
                "DELETE FROM training_performance WHERE id = (SELECT max(id) FROM "
                "training_performance)");
  now_ += 80s;
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(metrics.schema_migration_failures->Value(), 4);
  EXPECT_EQ(missing(), 0);
  EXPECT_EQ(testing::queryNumber(*database_, "SELECT count(*) FROM tp_schema_migrations"),
            static_cast<long long>(storage::migrationNames().size()));
}

}  // namespace
}  // namespace tp::cache
