// The cluster-state scenario against real SQLite, PostgreSQL and MariaDB: rows in -> refresh ->
// exactly the expected caches; rows change -> next refresh shows it; database away -> last
// snapshot kept and the failure counted; database back -> refresh recovers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "cache/cache_json.h"
#include "cache/cache_refresher.h"
#include "http/envelope.h"
#include "rapidjson/document.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"

namespace tp {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

using testing::exec;
using testing::insertDevice;
using testing::insertPod;
using testing::insertWorkload;
using testing::reference;

// The edge cases of the cluster-state issue in one small cluster.
void insertCluster(storage::Database& database) {
  insertPod(database, "team-a", "train-0", "pod-a0", "node-a", true);
  insertDevice(database, "pod-a0", "gpu", "card0", "0");
  insertDevice(database, "pod-a0", "gpu", "card1", "1");
  insertDevice(database, "pod-a0", "ib", "mlx5_0", "0");
  insertDevice(database, "pod-a0", "rdma", "rdma0", "0");
  insertDevice(database, "pod-a0", "ASIC", "asic0", "NULL");
  insertDevice(database, "pod-a0", "npu", "npu0", "0");      // unknown type: ignored, counted
  insertDevice(database, "pod-a0", "gpu", "card9", "NULL");  // GPU without number: ignored
  insertPod(database, "team-a", "stopped-0", "pod-s0", "node-a", false);  // not running
  insertDevice(database, "pod-s0", "gpu", "card2", "2");
  insertPod(database, "team-b", "train-0", "pod-b0", "node-b", true);  // same name, other ns
  insertDevice(database, "pod-b0", "gpu", "card0", "0");
  insertPod(database, "team-a", "nodev-0", "pod-n0", "node-b", true);  // container, no device
  insertWorkload(database, "job-parent", "w-3-parent", "", "Running");
  insertWorkload(database, "job-child", "w-1-child", "w-3-parent", "Running");
  insertWorkload(database, "job-other", "w-2-other", "", "Running");
  insertWorkload(database, "job-done", "w-4-done", "", "Succeeded");  // not Running
  reference(database, "w-3-parent", "pod-a0");  // a pod under parent and child
  reference(database, "w-1-child", "pod-a0");
  reference(database, "w-2-other", "pod-b0");
  reference(database, "w-4-done", "pod-b0");
  reference(database, "w-3-parent", "pod-n0");
  reference(database, "w-3-parent", "pod-s0");  // pod not running: not in the cache
}

std::string deviceJson(const cache::ClusterSnapshot& snapshot) {
  return http::envelopeOkWriting(
      [&](common::JsonWriter& writer) { cache::writeDevicePodCache(writer, snapshot); });
}

std::string workloadJson(const cache::ClusterSnapshot& snapshot) {
  return http::envelopeOkWriting(
      [&](common::JsonWriter& writer) { cache::writePodWorkloadCache(writer, snapshot); });
}

const char* kExpectedDevices =
    R"({"meta":{"code":2000,"message":"OK"},"data":{)"
    R"("node-a":{"gpu_id":{"0":["train-0","pod-a0"],"1":["train-0","pod-a0"]},)"
    R"("device":{"mlx5_0":["train-0","pod-a0"],"rdma0":["train-0","pod-a0"]},)"
    R"("asic":{"asic0":["train-0","pod-a0"]}},)"
    R"("node-b":{"gpu_id":{"0":["train-0","pod-b0"]}}},"tracing":null})";

const char* kExpectedWorkloads =
    R"({"meta":{"code":2000,"message":"OK"},"data":{)"
    R"("nodev-0":[["job-parent","w-3-parent"]],)"
    R"("train-0":[["job-child","w-1-child"],["job-other","w-2-other"],["job-parent","w-3-parent"]]},)"
    R"("tracing":null})";

class ClusterStateTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = testing::startDatabase(GetParam());
    auto database = storage::Database::create(server_->dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> database_;
};

TEST_P(ClusterStateTest, RefreshBuildsTheExpectedCachesFollowsChangesAndSurvivesOutages) {
  ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());  // an empty database's tables
  telemetry::Telemetry telemetry("test");
  cache::CacheRefresher refresher(*database_, 1h, telemetry.cacheMetrics());
  EXPECT_FALSE(refresher.loaded());
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_TRUE(refresher.loaded());
  EXPECT_EQ(refresher.snapshot()->deviceCount(), 0u);

  insertCluster(*database_);
  ASSERT_TRUE(refresher.refreshNow().ok());
  auto snapshot = refresher.snapshot();
  EXPECT_EQ(deviceJson(*snapshot), kExpectedDevices);
  EXPECT_EQ(workloadJson(*snapshot), kExpectedWorkloads);
  EXPECT_EQ(snapshot->ignoredUnknownType(), 1u);
  EXPECT_EQ(snapshot->ignoredWithoutNumber(), 1u);
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("pod-a0")->name, "job-child");
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("pod-b0")->name, "job-other");
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("pod-n0")->name, "job-parent");
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("pod-s0"), nullptr);
  ASSERT_NE(snapshot->workloadsOfPodUid("pod-b0"), nullptr);
  EXPECT_EQ(snapshot->workloadsOfPodUid("pod-b0")->size(), 1u);
  EXPECT_THAT(telemetry.exposition(),
              HasSubstr(R"(cache_ignored_devices{reason="unknown_device_type"} 1)"));
  EXPECT_THAT(telemetry.exposition(), HasSubstr(R"(cache_entries{cache="device_pod"} 6)"));

  // Rows change: the stopped pod starts, a new node appears, a workload finishes.
  exec(*database_, "UPDATE gpu_pods SET running = TRUE WHERE uid = 'pod-s0'");
  insertPod(*database_, "team-c", "new-0", "pod-c0", "node-c", true);
  insertDevice(*database_, "pod-c0", "gpu", "card3", "3");
  exec(*database_, "UPDATE gpu_workload SET status = 'Succeeded' WHERE uid = 'w-2-other'");
  ASSERT_TRUE(refresher.refreshNow().ok());
  snapshot = refresher.snapshot();
  ASSERT_NE(snapshot->podOfDevice("node-a", cache::DeviceLabel::kGpuId, "2"), nullptr);
  EXPECT_EQ(snapshot->podOfDevice("node-a", cache::DeviceLabel::kGpuId, "2")->uid, "pod-s0");
  ASSERT_NE(snapshot->podOfDevice("node-c", cache::DeviceLabel::kGpuId, "3"), nullptr);
  EXPECT_EQ(snapshot->workloadsOfPodUid("pod-b0"), nullptr);
  ASSERT_NE(snapshot->workloadsOfPodName("stopped-0"), nullptr);

  // Database away: refreshes fail, are counted, and the last snapshot keeps serving.
  const std::string before_outage = deviceJson(*refresher.snapshot());
  server_->stop();
  EXPECT_FALSE(refresher.refreshNow().ok());
  EXPECT_FALSE(refresher.refreshNow().ok());
  EXPECT_EQ(deviceJson(*refresher.snapshot()), before_outage);
  EXPECT_THAT(telemetry.exposition(), HasSubstr("cache_refresh_failures_total 2"));

  // Database back: the next refresh recovers.
  server_->start();
  exec(*database_, "UPDATE gpu_pods SET running = FALSE WHERE uid = 'pod-c0'");
  ASSERT_TRUE(refresher.refreshNow().ok());
  EXPECT_EQ(refresher.snapshot()->podOfDevice("node-c", cache::DeviceLabel::kGpuId, "3"), nullptr);
}

TEST_P(ClusterStateTest, ExistingLensDatabaseGetsWhatIsMissingAndKeepsItsRows) {
  // Lens tables as an older release created them: no nearest_workload_uid, no indexes, and
  // rows that repeat the training_performance unique key.
  exec(*database_,
       "CREATE TABLE workload_event (id INTEGER, workload_uid VARCHAR(256), "
       "type VARCHAR(256), run_serial INTEGER, pod_uid VARCHAR(256))");
  exec(*database_,
       "INSERT INTO workload_event (id, workload_uid, type, run_serial, pod_uid) "
       "VALUES (1, 'w1', 'StartTrain', 1, 'p1')");
  exec(*database_,
       "CREATE TABLE training_performance (id INTEGER, pod_uuid VARCHAR(256), "
       "iteration INTEGER, serial INTEGER, workload_uid VARCHAR(256))");
  for (int i = 0; i < 2; ++i) {
    exec(*database_,
         "INSERT INTO training_performance (id, pod_uuid, iteration, serial, "
         "workload_uid) VALUES (" +
             std::to_string(i) + ", 'p1', 7, 1, 'w1')");
  }
  std::vector<std::string> warnings;
  ASSERT_TRUE(storage::ensureSchema(*database_, &warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("uq_tp_training_performance_iteration"));

  int events = 0, rows = 0;
  std::string nearest = "unset";
  soci::indicator nearest_null = soci::i_ok;
  ASSERT_TRUE(database_
                  ->run([&](soci::session& sql) {
                    sql << "SELECT count(*) FROM workload_event", soci::into(events);
                    sql << "SELECT count(*) FROM training_performance", soci::into(rows);
                    sql << "SELECT nearest_workload_uid FROM workload_event WHERE id = 1",
                        soci::into(nearest, nearest_null);
                  })
                  .ok());
  EXPECT_EQ(events, 1);
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(nearest_null, soci::i_null);  // the added column, empty for old rows

  // The unique key of workload_event now holds: a repeated insert is refused.
  exec(*database_,
       "INSERT INTO workload_event (workload_uid, type, nearest_workload_uid) "
       "VALUES ('w2', 'StartTrain', 'w2')");
  const absl::Status duplicate = database_->run([](soci::session& sql) {
    sql << "INSERT INTO workload_event (workload_uid, type, nearest_workload_uid) "
           "VALUES ('w2', 'StartTrain', 'w2')";
  });
  EXPECT_FALSE(duplicate.ok());

  // Once the duplicates are gone, the next start completes the unfinished migration.
  exec(*database_, "DELETE FROM training_performance WHERE id = 1");
  ASSERT_TRUE(storage::ensureSchema(*database_, &warnings).ok());
  EXPECT_TRUE(warnings.empty());
  int migrations = 0;
  ASSERT_TRUE(database_
                  ->run([&](soci::session& sql) {
                    sql << "SELECT count(*) FROM tp_schema_migrations", soci::into(migrations);
                  })
                  .ok());
  EXPECT_EQ(migrations, static_cast<int>(storage::migrationNames().size()));
}

TEST_P(ClusterStateTest, ProcessorServesCachesAndTurnsReadyAfterTheFirstLoad) {
  ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
  insertCluster(*database_);
  std::vector<std::string> env;
  std::vector<std::string> args = testing::databaseFlags(server_->dbConfig(), &env);
  args.insert(args.end(), {"--httpPort=0", "--http.listenAddress=127.0.0.1",
                           "--cache.refreshInterval=200ms", testing::freshQueueDirFlag()});
  testing::ChildProcess processor(testing::processorBinary(), args, env);
  const auto port = processor.waitForOutput(R"(listening on 127\.0\.0\.1:(\d+))", 20s);
  ASSERT_TRUE(port) << processor.output();
  ASSERT_TRUE(processor.waitForOutput("cluster state loaded", 20s)) << processor.output();
  testing::HttpClient client(static_cast<uint16_t>(std::stoi(*port)));
  EXPECT_EQ(client.get("/readyz").status, 200u);
  const auto devices = client.get("/v1/pods/cache");
  EXPECT_EQ(devices.status, 200u);
  EXPECT_EQ(devices.body, kExpectedDevices);
  const auto workloads = client.get("/pods/workload/cache");
  EXPECT_EQ(workloads.body, kExpectedWorkloads);

  // The database goes away: readiness and the caches stay, failures are counted.
  server_->stop();
  ASSERT_TRUE(processor.waitForOutput("cache refresh failed", 30s)) << processor.output();
  EXPECT_EQ(client.get("/readyz").status, 200u);
  EXPECT_EQ(client.get("/pods/cache").body, kExpectedDevices);
  EXPECT_GT(testing::metricValue(client.get("/metrics").body, "cache_refresh_failures_total"), 0);
  server_->start();
  processor.signal(SIGTERM);
  EXPECT_EQ(processor.waitForExit(20s), 0) << processor.output();
}

TEST(PostgresTls, EnableSslConnectsOverTls) {
  testing::PostgresServer server(/*tls=*/true);
  config::DbConfig config = server.dbConfig();
  config.enable_ssl = true;
  auto database = storage::Database::create(config);
  ASSERT_TRUE(database.ok());
  int encrypted = 0;
  const absl::Status status = (*database)->run([&encrypted](soci::session& sql) {
    sql << "SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        soci::into(encrypted);
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(encrypted, 1);
}

TEST(PostgresTls, EnableSslRefusesAServerWithoutTls) {
  testing::PostgresServer server(/*tls=*/false);
  config::DbConfig config = server.dbConfig();
  config.enable_ssl = true;
  auto database = storage::Database::create(config);
  ASSERT_TRUE(database.ok());
  const absl::Status status = (*database)->run([](soci::session& sql) { sql << "SELECT 1"; });
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("cannot connect"));
}

TEST(ProcessorReadiness, NotReadyUntilTheDatabaseAnswers) {
  // A PostgreSQL address where nothing listens: the processor serves, but is not ready.
  testing::ChildProcess processor(
      testing::processorBinary(),
      {"--httpPort=0", "--http.listenAddress=127.0.0.1", "--db.driver=postgres",
       "--db.host=127.0.0.1", "--db.port=" + std::to_string(testing::freeLoopbackPort()),
       "--db.timeout=1s", "--cache.refreshInterval=200ms", testing::freshQueueDirFlag()});
  const auto port = processor.waitForOutput(R"(listening on 127\.0\.0\.1:(\d+))", 20s);
  ASSERT_TRUE(port) << processor.output();
  ASSERT_TRUE(processor.waitForOutput("cache refresh failed", 20s)) << processor.output();
  testing::HttpClient client(static_cast<uint16_t>(std::stoi(*port)));
  const auto ready = client.get("/readyz");
  EXPECT_EQ(ready.status, 503u);
  EXPECT_THAT(ready.body, HasSubstr("cluster state not loaded"));
  EXPECT_EQ(client.get("/healthz").status, 200u);
  EXPECT_THAT(client.get("/pods/cache").body, HasSubstr(R"("data":{})"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ClusterStateTest,
                         ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
