// The cluster state saved under queue.dir, with the real binary and a real PostgreSQL: a
// processor restarted while the database is down serves the state it last read instead of
// deferring everything, takes metrics and logs (the log rows wait in the journal), and returns
// to the database as soon as that answers. A damaged saved state is ignored, never fatal.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "rapidjson/document.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/remote_write_bodies.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace http = boost::beast::http;

// /readyz's account of the cluster state: source and age, or the status alone when not ready.
struct Readiness {
  unsigned status = 0;
  std::string source;
  double age_seconds = -1;
  std::string body;
};

Readiness readiness(uint16_t port) {
  testing::HttpClient client(port);
  const testing::HttpResult result = client.get("/readyz");
  Readiness ready{.status = result.status, .body = result.body};
  rapidjson::Document body;
  body.Parse(result.body.c_str());
  if (body.HasParseError() || !body.IsObject() || !body.HasMember("data") ||
      !body["data"].IsObject()) {
    return ready;
  }
  const auto& state = body["data"]["clusterState"];
  ready.source = state["source"].GetString();
  ready.age_seconds = state["ageSeconds"].GetDouble();
  return ready;
}

// A Megatron performance line of the training pod: one row per workload.
constexpr const char* kLogsBody =
    R"([{"date": 1761223152.5, "log": " iteration 7/ 100 | consumed samples: 64 | )"
    R"(elapsed time per iteration (ms): 812.4 | lm loss: 2.5 |", )"
    R"("kubernetes": {"pod_name": "train-0", "namespace_name": "team", )"
    R"("pod_id": "pod-0", "host": "node-a"}}])";

TEST(SavedClusterStateTest, RestartDuringADatabaseOutageServesTheSavedStateUntilItIsBack) {
  testing::PostgresServer postgres;
  auto database = storage::Database::create(postgres.dbConfig());
  ASSERT_TRUE(database.ok()) << database.status();
  ASSERT_TRUE(storage::ensureSchema(**database, nullptr).ok());
  testing::insertTrainingPod(**database);

  testing::TempDir queue("tp-queue-");
  std::vector<std::string> env;
  std::vector<std::string> args = testing::databaseFlags(postgres.dbConfig(), &env);
  // A refresh interval of an hour: only the retry until the database is read brings it back.
  args.insert(args.end(),
              {"--db.timeout=1s", "--cache.refreshInterval=1h", "--training.flushInterval=20ms",
               "--training.retryMaxBackoff=200ms", "--queue.dir=" + queue.path().string()});
  std::unique_ptr<testing::ChildProcess> processor;
  uint16_t port = testing::startProcessor(processor, args, env);
  ASSERT_NE(port, 0);
  const Readiness first = readiness(port);
  EXPECT_EQ(first.status, 200u) << first.body;
  EXPECT_EQ(first.source, "database") << first.body;
  testing::stopProcessor(*processor);
  ASSERT_TRUE(std::filesystem::exists(queue / "cluster-snapshot.bin")) << processor->output();

  postgres.stop();
  port = testing::startProcessor(processor, args, env);
  ASSERT_NE(port, 0);
  const Readiness restarted = readiness(port);
  EXPECT_EQ(restarted.status, 200u) << restarted.body;
  EXPECT_EQ(restarted.source, "file") << restarted.body;
  EXPECT_GE(restarted.age_seconds, 0) << restarted.body;

  // The sample is enriched from the saved state: the pod's workload is known.
  testing::HttpClient client(port);
  EXPECT_EQ(
      client
          .request(http::verb::post, "/api/v1/write", testing::gpuSampleBody(1'761'223'152'000),
                   {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}})
          .status,
      204u)
      << processor->output();
  const std::string metrics = client.get("/metrics").body;
  EXPECT_EQ(testing::metricValue(metrics, R"(remote_write_forwarded_total\{kind="samples"\})"), 1)
      << metrics;
  // The log line's row waits in the journal for the database.
  EXPECT_EQ(
      client
          .request(http::verb::post, "/v1/logs", kLogsBody, {{"Content-Type", "application/json"}})
          .status,
      200u)
      << processor->output();
  EXPECT_TRUE(testing::waitFor(
      [&] {
        return testing::metricValue(client.get("/metrics").body, "training_rows_pending") >= 1;
      },
      60s))
      << processor->output();

  postgres.start();
  (void)(*database)->run(
      [](soci::session& sql) { sql << "SELECT 1"; });  // drops a stale connection
  EXPECT_TRUE(testing::waitFor([&] { return readiness(port).source == "database"; }, 120s))
      << processor->output();
  EXPECT_TRUE(testing::waitFor(
      [&] {
        return testing::queryNumber(**database,
                                    "SELECT count(*) FROM training_performance WHERE "
                                    "workload_uid = 'w-job' AND iteration = 7") == 1;
      },
      120s))
      << processor->output();
  testing::stopProcessor(*processor);
}

TEST(SavedClusterStateTest, DamagedSavedStateIsIgnoredAndTheProcessorWaitsForTheDatabase) {
  testing::TempDir queue("tp-queue-");
  std::ofstream(queue / "cluster-snapshot.bin") << "TPSNAP01 and then nothing that fits";
  // A PostgreSQL address where nothing listens.
  testing::ChildProcess processor(
      testing::processorBinary(),
      {"--httpPort=0", "--http.listenAddress=127.0.0.1", "--db.driver=postgres",
       "--db.host=127.0.0.1", "--db.port=" + std::to_string(testing::freeLoopbackPort()),
       "--db.timeout=1s", "--queue.dir=" + queue.path().string()});
  const auto port = processor.waitForOutput(R"(listening on 127\.0\.0\.1:(\d+))", 60s);
  ASSERT_TRUE(port) << processor.output();
  EXPECT_THAT(processor.output(), HasSubstr("ignoring the saved cluster state"));
  const Readiness ready = readiness(static_cast<uint16_t>(std::stoi(*port)));
  EXPECT_EQ(ready.status, 503u);
  EXPECT_THAT(ready.body, HasSubstr("cluster state not loaded"));
  testing::stopProcessor(processor);
}

}  // namespace
}  // namespace tp
