#include "storage/database.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/clock.h"
#include "soci/soci.h"
#include "storage/demo_data.h"
#include "storage/schema.h"
#include "storage/training_queries.h"
#include "support/temp_dir.h"

namespace tp::storage {
namespace {

using ::testing::HasSubstr;

TEST(ConnectString, PostgresQuotesValuesAndBoundsTime) {
  config::DbConfig config;
  config.driver = Driver::kPostgres;
  config.host = "db.example";
  config.user_name = "lens";
  config.password = "it's \\ secret";
  config.db_name = "primus lens";
  config.enable_ssl = true;
  config.timeout = std::chrono::milliseconds(2500);
  EXPECT_EQ(connectString(config),
            "host='db.example' port=5432 dbname='primus lens' user='lens' "
            "password='it\\'s \\\\ secret' connect_timeout=3 sslmode=require "
            "options='-c statement_timeout=2500'");
}

TEST(ConnectString, MysqlUsesItsPortAndTimeouts) {
  config::DbConfig config;
  config.driver = Driver::kMysql;
  config.port = 3307;
  config.user_name = "u";
  const std::string text = connectString(config);
  EXPECT_THAT(text, HasSubstr("port=3307"));
  EXPECT_THAT(text, HasSubstr("read_timeout=10 write_timeout=10"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("sslca")));
  config.enable_ssl = true;
  EXPECT_THAT(connectString(config), HasSubstr("sslca="));
}

TEST(ConnectString, SqliteQuotesThePath) {
  config::DbConfig config;
  config.path = "data dir/lens.db";
  EXPECT_EQ(connectString(config), "db=\"data dir/lens.db\" timeout=10");
}

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { config_.path = (dir_ / "nested" / "lens.db").string(); }

  int count(Database& database, const std::string& table) {
    int rows = -1;
    EXPECT_TRUE(database
                    .run([&](soci::session& sql) {
                      sql << "SELECT count(*) FROM " + table, soci::into(rows);
                    })
                    .ok());
    return rows;
  }

  testing::TempDir dir_;
  config::DbConfig config_;
};

TEST_F(SqliteDatabaseTest, CreatesTheDirectoryAndTheSchema) {
  auto database = Database::create(config_);
  ASSERT_TRUE(database.ok()) << database.status();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "nested"));
  ASSERT_TRUE(ensureSchema(**database, nullptr).ok());
  ASSERT_TRUE(ensureSchema(**database, nullptr).ok());  // idempotent
  EXPECT_EQ(count(**database, "tp_schema_migrations"), static_cast<int>(migrationNames().size()));
  EXPECT_EQ(count(**database, "gpu_pods"), 0);
}

TEST_F(SqliteDatabaseTest, ErrorsBecomeStatusesAndTheConnectionRecovers) {
  auto database = Database::create(config_);
  ASSERT_TRUE(database.ok());
  const absl::Status status =
      (*database)->run([](soci::session& sql) { sql << "SELECT * FROM no_such_table"; });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no_such_table"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("sqlite " + config_.path));
  EXPECT_TRUE((*database)->run([](soci::session& sql) { sql << "SELECT 1"; }).ok());
}

TEST_F(SqliteDatabaseTest, UnwritableLocationIsReported) {
  config_.path = "/proc/tp-cannot-exist/lens.db";
  auto database = Database::create(config_);
  ASSERT_FALSE(database.ok());
  EXPECT_THAT(std::string(database.status().message()), HasSubstr("db.path"));
}

TEST_F(SqliteDatabaseTest, DemoClusterIsInsertedOnce) {
  auto database = Database::create(config_);
  ASSERT_TRUE(database.ok());
  const auto now = std::chrono::system_clock::time_point(std::chrono::hours(492'000));
  ASSERT_TRUE(seedDemoCluster(**database, now).ok());
  // Seeded again an hour later: the run's rows, saves and events stay those of the first time.
  ASSERT_TRUE(seedDemoCluster(**database, now + std::chrono::hours(1)).ok());
  EXPECT_EQ(count(**database, "gpu_workload"), 3);
  EXPECT_EQ(count(**database, "gpu_pods"), 4);
  EXPECT_EQ(count(**database, "node_container"), 4);
  EXPECT_EQ(count(**database, "node_container_devices"), 2 * (8 + 2) + 8 + 8);
  EXPECT_EQ(count(**database, "workload_pod_reference"), 4);
  EXPECT_EQ(count(**database, "training_performance"), 600);
  EXPECT_EQ(count(**database, "checkpoint_event"), 3);
  EXPECT_EQ(count(**database, "workload_event"), 2);  // StartTrain and EndTrain
  auto runs = listRuns(**database, {});
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->runs.size(), 1u);
  EXPECT_EQ(runs->runs[0].workload_name, "demo-finetune");
  EXPECT_EQ(runs->runs[0].state, RunState::kEnded);
  EXPECT_EQ(runs->runs[0].last_iteration, 600);
  EXPECT_EQ(runs->runs[0].checkpoints.count, 3);
  // It ended five minutes before the first seeding's `now`.
  EXPECT_EQ(runs->runs[0].since_us, common::microsSinceEpoch(now - std::chrono::minutes(5)));
}

}  // namespace
}  // namespace tp::storage
