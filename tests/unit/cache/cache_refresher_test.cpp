// The refresher against SQLite files: each database read is saved, a refresher that cannot read
// its database at start serves the saved snapshot (with its age on a simulated clock) until the
// database answers, and its own thread refreshes on that clock's intervals.

#include "cache/cache_refresher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"
#include "support/wait.h"

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
    return std::make_unique<CacheRefresher>(database, 1h, telemetry.cacheMetrics(), file_, clock_);
  }

  static bool resolvesTrainingPod(const CacheRefresher& refresher) {
    const auto snapshot = refresher.snapshot();  // keeps `pod` alive past a concurrent refresh
    const PodRef* pod = snapshot->podOfDevice("node-a", DeviceLabel::kGpuId, "0");
    return pod != nullptr && pod->workloads_by_uid != nullptr &&
           pod->workloads_by_uid->front()->uid == "w-job";
  }

  testing::TempDir dir_;
  const std::filesystem::path file_ = dir_ / "queue" / "cluster-snapshot.bin";
  const std::filesystem::path unreachable_ = dir_ / "away.db";
  std::unique_ptr<storage::Database> database_;
  testing::SimulatedClock clock_{system_clock::time_point(std::chrono::seconds(1'761'223'000))};
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
  clock_.advance(90s);
  auto away = openUnreachable();
  telemetry::Telemetry telemetry("test");
  const telemetry::CacheMetrics metrics = telemetry.cacheMetrics();
  CacheRefresher second(*away, 1h, metrics, file_, clock_);
  EXPECT_FALSE(second.loaded());
  EXPECT_EQ(second.origin().source, SnapshotSource::kNone);
  EXPECT_EQ(second.origin().generation, 0u);
  EXPECT_FALSE(second.refreshNow().ok());
  ASSERT_TRUE(second.loaded());
  EXPECT_EQ(second.origin().source, SnapshotSource::kFile);
  EXPECT_EQ(second.origin().generation, 1u);
  EXPECT_EQ(second.origin().age, 90s);
  EXPECT_TRUE(resolvesTrainingPod(second));
  EXPECT_EQ(metrics.refresh_failures->Value(), 1);
  EXPECT_EQ(metrics.device_entries->Value(), 1);
  // The age grows with the clock while the database stays away; the file is kept.
  clock_.advance(30s);
  EXPECT_FALSE(second.refreshNow().ok());
  EXPECT_EQ(second.origin().source, SnapshotSource::kFile);
  EXPECT_EQ(second.origin().age, 120s);
  EXPECT_TRUE(resolvesTrainingPod(second));

  // The database answers (a fresh one here, with the tables the schema maintainer creates): its
  // empty state replaces the file's, and is saved.
  std::filesystem::remove(unreachable_);
  ASSERT_TRUE(storage::ensureSchema(*away, nullptr).ok());
  clock_.advance(5s);
  ASSERT_TRUE(second.refreshNow().ok());
  EXPECT_EQ(second.origin().source, SnapshotSource::kDatabase);
  EXPECT_EQ(second.origin().age, 0s);
  EXPECT_EQ(second.origin().generation, 2u);  // a failed refresh publishes nothing
  EXPECT_FALSE(resolvesTrainingPod(second));
  EXPECT_EQ(metrics.last_success_timestamp->Value(),
            std::chrono::duration<double>(clock_.wallNow().time_since_epoch()).count());
  clock_.advance(7s);
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

TEST_F(CacheRefresherTest, ItsThreadRefreshesEverySecondUntilTheDatabaseIsReadThenEveryInterval) {
  std::filesystem::create_directories(unreachable_);
  auto database = open(unreachable_);
  telemetry::Telemetry telemetry("test");
  const telemetry::CacheMetrics metrics = telemetry.cacheMetrics();
  CacheRefresher refresher(*database, 1h, metrics, {}, clock_);
  refresher.start();  // the first refresh, on this thread, fails
  EXPECT_FALSE(refresher.loaded());
  EXPECT_EQ(metrics.refresh_failures->Value(), 1);
  clock_.advance(1s);
  ASSERT_TRUE(testing::waitFor([&] { return metrics.refresh_failures->Value() == 2; }));

  // The database answers: within a second, not an hour.
  std::filesystem::remove(unreachable_);
  ASSERT_TRUE(storage::ensureSchema(*database, nullptr).ok());
  testing::insertTrainingPod(*database);
  clock_.advance(1s);
  ASSERT_TRUE(testing::waitFor([&] { return refresher.loaded(); }));
  EXPECT_TRUE(resolvesTrainingPod(refresher));

  // From then on every interval: a change shows after an hour.
  testing::exec(*database, "DELETE FROM workload_pod_reference");
  clock_.advance(1h);
  ASSERT_TRUE(testing::waitFor([&] { return !resolvesTrainingPod(refresher); }));
  EXPECT_EQ(metrics.refresh_failures->Value(), 2);
  refresher.stop();
}

}  // namespace
}  // namespace tp::cache
