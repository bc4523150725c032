// What must hold when the database is shared: with two replicas on one PostgreSQL or MariaDB,
// run serials are decided by the database, not by what one replica remembers; against tables
// made by the Lens baseline DDL (no unique keys, old duplicates) new rows are still written
// exactly once, `db dedupe` clears the duplicates and creates the keys; a PostgreSQL role that
// does not own the tables still gets a ready processor that ingests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "storage/training_rows.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/wait.h"

namespace tp {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

testing::HttpResult postLogs(uint16_t port, const std::vector<std::string>& records) {
  std::string body = "[";
  for (const std::string& record : records) body += (body.size() > 1 ? "," : "") + record;
  body += "]";
  testing::HttpClient client(port);
  return client.request(http::verb::post, "/v1/logs", body, {{"Content-Type", "application/json"}});
}

// The processor's cluster state includes `pod`: its lines can be attributed.
bool knowsPod(uint16_t port, const std::string& pod) {
  testing::HttpClient client(port);
  return client.get("/pods/workload/cache").body.find(pod) != std::string::npos;
}

// A job restarted under a new leaf workload: run `run`, pod train-<run>.
void addRun(storage::Database& database, int run) {
  const std::string leaf = "w-run" + std::to_string(run);
  const std::string pod = "pod-" + std::to_string(run);
  testing::insertWorkload(database, "job-run" + std::to_string(run), leaf, "w-job", "Running");
  testing::insertPod(database, "team", "train-" + std::to_string(run), pod, "node-a", true);
  testing::reference(database, "w-job", pod);
  testing::reference(database, leaf, pod);
}

std::vector<std::string> iterations(int run, int first, int last) {
  std::vector<std::string> records;
  for (int i = first; i <= last; ++i) {
    records.push_back(testing::fluentBitRecord(
        "train-" + std::to_string(run), "pod-" + std::to_string(run), testing::performanceLine(i)));
  }
  return records;
}

std::vector<std::string> start(int run) {
  return {testing::fluentBitRecord("train-" + std::to_string(run), "pod-" + std::to_string(run),
                                   testing::startLine(0))};
}

class SharedDatabaseTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = testing::startDatabase(GetParam());
    auto database = storage::Database::create(server_->dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }

  void TearDown() override {
    for (auto& processor : processors_) {
      if (processor) testing::stopProcessor(*processor);
    }
    if (HasFailure()) {
      for (auto& processor : processors_) {
        if (processor) ADD_FAILURE() << processor->output();
      }
    }
  }

  uint16_t startReplica(const config::DbConfig& db, std::vector<std::string> extra = {}) {
    std::vector<std::string> env;
    std::vector<std::string> args = testing::databaseFlags(db, &env);
    args.insert(args.end(), {"--cache.refreshInterval=200ms", "--training.flushInterval=20ms",
                             "--training.retryMaxBackoff=200ms"});
    args.insert(args.end(), extra.begin(), extra.end());
    processors_.emplace_back();
    return testing::startProcessor(processors_.back(), args, env);
  }

  long long count(const std::string& where_sql) {
    return testing::queryNumber(*database_, "SELECT count(*) FROM " + where_sql);
  }

  // Waits for the writers: the count reaches `expected`; a count past it fails at once.
  void expectCount(const std::string& where_sql, long long expected) {
    testing::waitFor([&] { return count(where_sql) >= expected; });
    EXPECT_EQ(count(where_sql), expected) << where_sql;
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> database_;
  std::vector<std::unique_ptr<testing::ChildProcess>> processors_;
};

TEST_P(SharedDatabaseTest, TwoReplicasTakeRunSerialsFromTheDatabase) {
  if (GetParam() == "sqlite") GTEST_SKIP() << "replicas share a database server, not a file";
  ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
  testing::insertWorkload(*database_, "job", "w-job", "", "Running");
  addRun(*database_, 1);
  const uint16_t a = startReplica(server_->dbConfig());
  const uint16_t b = startReplica(server_->dbConfig());
  ASSERT_NE(a, 0);
  ASSERT_NE(b, 0);

  // Replica A meets run 1.
  ASSERT_EQ(postLogs(a, start(1)).status, 200u);
  ASSERT_EQ(postLogs(a, iterations(1, 1, 2)).status, 200u);
  expectCount("training_performance WHERE workload_uid = 'w-job' AND serial = 1", 2);

  // The job restarts twice while B takes the logs: B records runs 2 and 3.
  addRun(*database_, 2);
  addRun(*database_, 3);
  ASSERT_TRUE(testing::waitFor([&] { return knowsPod(a, "train-3") && knowsPod(b, "train-3"); }));
  ASSERT_EQ(postLogs(b, start(2)).status, 200u);
  ASSERT_EQ(postLogs(b, iterations(2, 1, 3)).status, 200u);
  expectCount("training_performance WHERE workload_uid = 'w-job' AND serial = 2", 3);
  ASSERT_EQ(postLogs(b, start(3)).status, 200u);
  expectCount(
      "workload_event WHERE workload_uid = 'w-job' AND nearest_workload_uid = 'w-run3' AND "
      "run_serial = 3",
      1);

  // Run 3's iterations reach A, which saw neither restart.
  ASSERT_EQ(postLogs(a, iterations(3, 3, 5)).status, 200u);
  expectCount("training_performance WHERE workload_uid = 'w-job' AND serial = 3", 3);
  expectCount("training_performance WHERE workload_uid = 'w-job' AND serial = 2", 3);
  expectCount("training_performance WHERE workload_uid = 'w-job'", 8);
  expectCount("workload_event WHERE workload_uid = 'w-job' AND type = 'StartTrain'", 3);
}

// The Lens baseline's columns for the tables the processor writes and reads, in each backend's
// types; no unique keys and no indexes, as Lens created them.
std::vector<std::string> lensBaselineDdl(const std::string& driver, bool text_uids) {
  const bool mysql = driver == "mysql";
  const std::string serial = driver == "postgres" ? "serial PRIMARY KEY"
                             : mysql              ? "INT AUTO_INCREMENT PRIMARY KEY"
                                                  : "INTEGER PRIMARY KEY AUTOINCREMENT";
  const std::string json = driver == "postgres" ? "jsonb" : mysql ? "JSON" : "TEXT";
  const std::string time = driver == "postgres" ? "timestamp with time zone"
                           : mysql              ? "DATETIME(6)"
                                                : "TIMESTAMP";
  const auto uid = [text_uids](int length) {
    return text_uids ? std::string("TEXT") : "varchar(" + std::to_string(length) + ")";
  };
  return {
      "CREATE TABLE gpu_pods (id " + serial +
          ", namespace varchar(64), name varchar(64), node_name varchar(64), uid " + uid(64) +
          ", gpu_allocated integer, phase varchar(64), deleted boolean, created_at " + time +
          ", updated_at " + time + ", owner_uid " + uid(64) + ", running boolean, ip varchar(32))",
      "CREATE TABLE gpu_workload (id " + serial +
          ", group_version varchar(128), kind varchar(64), namespace varchar(64), name "
          "varchar(64), uid " +
          uid(128) + ", parent_uid " + uid(128) + ", gpu_request integer, created_at " + time +
          ", updated_at " + time + ", deleted_at " + time + ", end_at " + time +
          ", status varchar(64), source varchar(64), labels " + json + ", annotations " + json +
          ")",
      "CREATE TABLE workload_pod_reference (id " + serial + ", workload_uid " + uid(64) +
          ", pod_uid " + uid(64) + ", created_at " + time + ")",
      "CREATE TABLE node_container (id " + serial +
          ", container_id varchar(128), container_name varchar(128), pod_uid " + uid(128) +
          ", pod_name varchar(128), pod_namespace varchar(128), status varchar(128), "
          "created_at " +
          time + ", updated_at " + time + ", node_name varchar(128), source varchar(128))",
      "CREATE TABLE node_container_devices (id " + serial +
          ", container_id varchar(64), device_type varchar(64), device_name varchar(64), "
          "device_no integer, device_uuid varchar(64), created_at " +
          time + ", restart_count integer, updated_at " + time + ")",
      "CREATE TABLE training_performance (id " + serial + ", pod_uuid " + uid(256) +
          ", performance " + json + ", iteration integer, created_at " + time +
          ", serial integer, workload_uid " + uid(256) + ")",
      "CREATE TABLE workload_event (id " + serial + ", workload_uid " + uid(256) + ", type " +
          uid(256) + ", run_serial integer, created_at " + time + ", pod_uid " + uid(256) +
          ", nearest_workload_uid " + uid(256) + ")",
  };
}

// What the reference left behind: two copies of one row and of one event.
void insertReferenceDuplicates(storage::Database& database) {
  for (int copy = 0; copy < 2; ++copy) {
    testing::exec(database,
                  "INSERT INTO training_performance (pod_uuid, performance, iteration, "
                  "created_at, serial, workload_uid) VALUES ('pod-1', '{\"current_iteration\": "
                  "1}', 1, '2025-10-23 12:39:12', 1, 'w-job')");
    testing::exec(database,
                  "INSERT INTO workload_event (workload_uid, type, run_serial, created_at, "
                  "pod_uid, nearest_workload_uid) VALUES ('w-job', 'StartTrain', 1, "
                  "'2025-10-23 12:39:12', 'pod-1', 'w-run1')");
  }
}

std::string runProcessorCommand(const config::DbConfig& db, std::vector<std::string> words,
                                int* exit_code) {
  std::vector<std::string> env;
  std::vector<std::string> argv = {testing::processorBinary()};
  argv.insert(argv.end(), words.begin(), words.end());
  for (const std::string& flag : testing::databaseFlags(db, &env)) argv.push_back(flag);
  std::string output;
  std::vector<std::string> with_env = {"/usr/bin/env"};
  with_env.insert(with_env.end(), env.begin(), env.end());
  with_env.insert(with_env.end(), argv.begin(), argv.end());
  *exit_code = testing::runCommand(with_env, &output);
  return output;
}

TEST_P(SharedDatabaseTest, LensBaselineTablesWithDuplicatesGetNewRowsOnceAndDedupe) {
  for (const std::string& ddl : lensBaselineDdl(GetParam(), GetParam() == "mysql")) {
    testing::exec(*database_, ddl);
  }
  testing::insertWorkload(*database_, "job", "w-job", "", "Running");
  addRun(*database_, 1);
  insertReferenceDuplicates(*database_);

  const uint16_t port = startReplica(server_->dbConfig());
  ASSERT_NE(port, 0);
  std::vector<std::string> batch = start(1);
  for (const std::string& line : iterations(1, 1, 3)) batch.push_back(line);
  // Values the Lens columns cannot hold are skipped at parse time, counted.
  batch.push_back(
      testing::fluentBitRecord("train-1", "pod-1", testing::performanceLine((1LL << 31) + 5)));
  batch.push_back(testing::fluentBitRecord("train-1", "pod-1", testing::performanceLine(9),
                                           253402300800.0));  // year 10000
  for (int round = 0; round < 2; ++round) {
    const auto answer = postLogs(port, batch);
    ASSERT_EQ(answer.status, 200u) << answer.body;
  }
  expectCount("training_performance WHERE workload_uid = 'w-run1'", 3);
  expectCount("workload_event WHERE workload_uid = 'w-run1' AND type = 'StartTrain'", 1);
  // The iteration and the run already present (twice) got no third copy. (The run's log time is
  // long past, so the health detector finds it stalled: its event is not the writer's.)
  EXPECT_EQ(count("training_performance WHERE workload_uid = 'w-job' AND iteration = 1"), 2);
  EXPECT_EQ(count("training_performance WHERE workload_uid = 'w-job'"), 4);
  EXPECT_EQ(count("workload_event WHERE workload_uid = 'w-job' AND type = 'StartTrain'"), 2);
  testing::HttpClient client(port);
  const std::string metrics = client.get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr(R"(database_unique_key_missing{table="training_performance"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(R"(database_unique_key_missing{table="workload_event"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("training_lines_iteration_beyond_column_total 2"));
  EXPECT_THAT(metrics, HasSubstr(R"(log_records_skipped_total{reason="invalid_date"} 2)"));
  testing::stopProcessor(*processors_.back());
  processors_.back().reset();

  int exit_code = -1;
  std::string report = runProcessorCommand(server_->dbConfig(), {"db", "dedupe"}, &exit_code);
  EXPECT_EQ(exit_code, 0) << report;
  EXPECT_THAT(report, HasSubstr("training_performance (workload_uid, serial, iteration): 1 "
                                "duplicated keys, 1 extra rows, unique key missing"));
  EXPECT_EQ(count("training_performance WHERE workload_uid = 'w-job'"), 4) << "a dry run";

  report = runProcessorCommand(server_->dbConfig(), {"db", "dedupe", "--apply"}, &exit_code);
  EXPECT_EQ(exit_code, 0) << report;
  EXPECT_THAT(report, HasSubstr("workload_event (workload_uid, nearest_workload_uid, type): 1 "
                                "duplicated keys, 1 extra rows, 1 deleted, unique key present"));
  EXPECT_EQ(count("training_performance WHERE workload_uid = 'w-job' AND iteration = 1"), 1);
  EXPECT_EQ(count("workload_event WHERE workload_uid = 'w-job' AND type = 'StartTrain'"), 1);
  auto missing = storage::tablesWithoutUniqueKey(*database_);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE(missing->empty());
}

TEST_P(SharedDatabaseTest, ARoleThatDoesNotOwnTheTablesStillIngests) {
  if (GetParam() != "postgres") GTEST_SKIP() << "table ownership as PostgreSQL has it";
  for (const std::string& ddl : lensBaselineDdl("postgres", false)) testing::exec(*database_, ddl);
  testing::insertWorkload(*database_, "job", "w-job", "", "Running");
  addRun(*database_, 1);
  config::DbConfig superuser = server_->dbConfig();
  superuser.user_name = "postgres";
  superuser.password = "postgres";
  auto admin = storage::Database::create(superuser);
  ASSERT_TRUE(admin.ok()) << admin.status();
  testing::exec(**admin, "CREATE ROLE tp_ingest LOGIN PASSWORD 'ingest'");
  testing::exec(*database_, "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO tp_ingest");
  testing::exec(*database_, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tp_ingest");
  config::DbConfig ingest = server_->dbConfig();
  ingest.user_name = "tp_ingest";
  ingest.password = "ingest";

  const uint16_t port = startReplica(ingest);
  ASSERT_NE(port, 0) << "the processor becomes ready though it may not create indexes";
  std::vector<std::string> batch = start(1);
  for (const std::string& line : iterations(1, 1, 3)) batch.push_back(line);
  ASSERT_EQ(postLogs(port, batch).status, 200u);
  expectCount("training_performance WHERE workload_uid = 'w-job'", 3);
  expectCount("workload_event WHERE workload_uid = 'w-job' AND type = 'StartTrain'", 1);
  EXPECT_TRUE(processors_.back()->waitForOutput("must be owner of table", 10s))
      << "the refused migration step is logged";
}

// The writer sets aside rows the database refuses and retries when it is away: the two must be
// told apart on every backend.
TEST_P(SharedDatabaseTest, ARefusedValueIsToldApartFromAnAbsentDatabase) {
  for (const std::string& ddl : lensBaselineDdl(GetParam(), false)) testing::exec(*database_, ddl);
  if (GetParam() == "sqlite") {
    // SQLite stores any integer; a CHECK stands for the 32-bit column.
    testing::exec(*database_, "DROP TABLE training_performance");
    testing::exec(*database_,
                  "CREATE TABLE training_performance (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                  "pod_uuid TEXT, performance TEXT, iteration INTEGER CHECK (iteration < "
                  "2147483648), created_at TIMESTAMP, serial INTEGER, workload_uid TEXT)");
  }
  const storage::PerformanceRow beyond_integer{
      "w-job", "pod-1", R"({"current_iteration":1})", (int64_t{1} << 31) + 1, 1, 1761223152000000};
  const absl::StatusOr<size_t> refused =
      storage::insertPerformanceRows(*database_, std::span(&beyond_integer, 1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  const storage::PerformanceRow fits{"w-job", "pod-1", R"({"current_iteration":1})",
                                     1,       1,       1761223152000000};
  const absl::StatusOr<size_t> written =
      storage::insertPerformanceRows(*database_, std::span(&fits, 1));
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 1u);
  const absl::StatusOr<size_t> again =
      storage::insertPerformanceRows(*database_, std::span(&fits, 1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0u) << "inserted counts rows inserted, not rows found";
  if (GetParam() == "sqlite") return;
  server_->stop();
  const absl::StatusOr<size_t> away =
      storage::insertPerformanceRows(*database_, std::span(&fits, 1));
  EXPECT_EQ(away.status().code(), absl::StatusCode::kUnavailable) << away.status();
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedDatabaseTest,
                         ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
