// The logs path against real SQLite, PostgreSQL and MariaDB: a cluster in the database, Fluent
// Bit batches posted over HTTP to the real processor -> the expected training_performance rows
// and exactly one StartTrain event per (workload, nearest workload), also when a batch is posted
// twice or two batches race; a restarted workload gets the next run serial; malformed bodies are
// refused with a reason and change nothing.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/compression.h"
#include "support/database_servers.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/wait.h"

namespace tp {
namespace {

// The writer's events: health events come as time passes (a run whose log stopped long ago is
// found stalled), and are not what these tests count.
constexpr const char* kRunEvents = "workload_event WHERE type IN ('StartTrain', 'EndTrain')";

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

constexpr const char* kJson = "application/json";

using testing::performanceLine;
using testing::startLine;

std::string record(const std::string& pod, const std::string& pod_uid, const std::string& log,
                   double date = 1761223152.123456) {
  return testing::fluentBitRecord(pod, pod_uid, log, date);
}

// Every rank of both pods prints the start marker, then rank 63 of each prints iterations
// first..last (the same iterations from two pods: still one row per workload and iteration).
std::string trainingBatch(int first, int last) {
  std::string body = "[";
  const auto add = [&body](const std::string& item) {
    if (body.size() > 1) body += ",\n";
    body += item;
  };
  for (int rank = 0; rank < 32; ++rank) {
    add(record("train-0", "pod-0", startLine(rank)));
    add(record("train-1", "pod-1", startLine(rank + 32)));
  }
  for (int iteration = first; iteration <= last; ++iteration) {
    add(record("train-0", "pod-0", performanceLine(iteration)));
    add(record("train-1", "pod-1", performanceLine(iteration)));
    add(record(
        "train-0", "pod-0",
        "some other line mentioning iteration " + std::to_string(iteration) + " without a table"));
  }
  add(record("primus-lens-telemetry-processor-0", "pod-self", performanceLine(1)));
  add(R"({"date": 1761223152.5, "log": "no kubernetes metadata"})");
  add(R"({"log": "no date"})");
  return body + "]";
}

class LogsPathTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { start(GetParam(), {}); }

  void start(const std::string& driver, const std::vector<std::string>& extra_flags) {
    server_ = testing::startDatabase(driver);
    auto database = storage::Database::create(server_->dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    // A PyTorchJob (w-job) whose current run is the leaf workload w-run1; two pods.
    testing::insertWorkload(*database_, "job", "w-job", "", "Running");
    testing::insertWorkload(*database_, "job-run1", "w-run1", "w-job", "Running");
    for (const char* pod : {"0", "1"}) {
      testing::insertPod(*database_, "team", std::string("train-") + pod, std::string("pod-") + pod,
                         "node-a", true);
      testing::reference(*database_, "w-job", std::string("pod-") + pod);
      testing::reference(*database_, "w-run1", std::string("pod-") + pod);
    }

    std::vector<std::string> env;
    std::vector<std::string> args = testing::databaseFlags(server_->dbConfig(), &env);
    args.insert(args.end(), {"--cache.refreshInterval=200ms", "--training.flushInterval=20ms",
                             "--training.batchRows=50", "--training.retryMaxBackoff=200ms"});
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    port_ = testing::startProcessor(processor_, args, env);
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    if (processor_) testing::stopProcessor(*processor_);
  }

  testing::HttpResult post(const std::string& body, const std::string& type = kJson,
                           const std::string& encoding = "") {
    return postTo(port_, body, type, encoding);
  }

  static testing::HttpResult postTo(uint16_t port, const std::string& body,
                                    const std::string& type = kJson,
                                    const std::string& encoding = "") {
    testing::HttpClient client(port);
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", type}};
    if (!encoding.empty()) headers.emplace_back("Content-Encoding", encoding);
    return client.request(http::verb::post, "/v1/logs", body, headers);
  }

  long long count(const std::string& where_sql) {
    return testing::queryNumber(*database_, "SELECT count(*) FROM " + where_sql);
  }

  // True when the processors on `ports` (and the test's own) have written every row and event
  // they accepted: nothing more can arrive from what was posted so far.
  bool allWritten(std::vector<uint16_t> ports = {}) {
    ports.push_back(port_);
    return std::all_of(ports.begin(), ports.end(), [](uint16_t port) {
      testing::HttpClient client(port);
      return testing::metricValue(client.get("/metrics").body, "training_rows_pending") == 0;
    });
  }

  // Waits (with a generous limit) until the count reaches `expected` and the writers are done,
  // then expects exactly `expected`: a duplicate would be there by then.
  void expectCount(const std::string& where_sql, long long expected,
                   const std::vector<uint16_t>& other_writers = {}) {
    testing::waitFor([&] { return count(where_sql) >= expected && allWritten(other_writers); }, 60s,
                     50ms);
    EXPECT_EQ(count(where_sql), expected) << where_sql;
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> database_;
  std::unique_ptr<testing::ChildProcess> processor_;
  uint16_t port_ = 0;
};

TEST_P(LogsPathTest, BatchesBecomeRowsAndOneEventPerRunAlsoWhenRepeatedRacingOrRestarted) {
  const std::string batch = trainingBatch(1, 5);
  const auto first = post(batch);
  ASSERT_EQ(first.status, 200u) << first.body;
  EXPECT_EQ(first.body, R"({"meta":{"code":2000,"message":"OK"},"data":{"records":81,"skipped":1,)"
                        R"("events":128,"rows":20,"lifecycle_events":0},"tracing":null})");
  expectCount(kRunEvents, 2);
  expectCount(
      "workload_event WHERE type = 'StartTrain' AND run_serial = 1 AND "
      "nearest_workload_uid = 'w-run1' AND workload_uid IN ('w-job', 'w-run1')",
      2);
  expectCount("training_performance", 10);
  expectCount(
      "training_performance WHERE serial = 1 AND iteration BETWEEN 1 AND 5 AND "
      "workload_uid IN ('w-job', 'w-run1') AND pod_uuid IN ('pod-0', 'pod-1')",
      10);

  // The stored document: every field of the line, log time as created_at.
  std::string document;
  ASSERT_TRUE(database_
                  ->run([&](soci::session& sql) {
                    sql << "SELECT performance FROM training_performance WHERE workload_uid = "
                           "'w-job' AND iteration = 3",
                        soci::into(document);
                  })
                  .ok());
  for (const char* field :
       {R"("current_iteration":3)", R"("target_iteration":1000)", R"("consumed_samples":192)",
        R"("elapsed_time_per_iteration_ms":16601.3)", R"("mem_usages":253.38)", R"("mem_free":2.6)",
        R"("mem_total":255.98)", R"("mem_usage_ratio":98.98)", R"("tflops":398.6)",
        R"("tokens_per_gpu":1234.5)", R"("learning_rate":0.0001)", R"("global_batch_size":64)",
        R"("lm_loss":10.69)", R"("loss_scale":1)", R"("grad_norm":2.345)",
        R"("skipped_iterations_number":0)", R"("nan_iterations_number":0)"}) {
    std::string compact = document;
    compact.erase(std::remove(compact.begin(), compact.end(), ' '), compact.end());
    EXPECT_THAT(compact, HasSubstr(field)) << document;
  }
  expectCount(
      "training_performance WHERE created_at > '2025-10-23 12:39:11' AND created_at < "
      "'2025-10-23 12:39:13'",
      10);

  // The same batch again (gzip this time): nothing new.
  ASSERT_EQ(post(testing::gzipCompress(batch), kJson, "gzip").status, 200u);
  // Two batches racing, as json_lines, with overlapping iterations.
  auto lines = [](std::string array) {
    std::string out;
    int depth = 0;
    for (char c : array.substr(1, array.size() - 2)) {
      if (c == '{') ++depth;
      if (c == '}') --depth;
      if (depth == 0 && (c == ',' || c == '\n')) {
        if (!out.empty() && out.back() != '\n') out.push_back('\n');
        continue;
      }
      out.push_back(c);
    }
    return out;
  };
  std::thread racer(
      [&] { EXPECT_EQ(post(lines(trainingBatch(4, 8)), "application/x-ndjson").status, 200u); });
  EXPECT_EQ(post(lines(trainingBatch(6, 10)), "application/x-ndjson").status, 200u);
  racer.join();
  expectCount(kRunEvents, 2);
  expectCount("training_performance", 20);

  // The job restarts: a new leaf workload and a new pod. Its rows are run 2 of the job and run 1
  // of the new leaf.
  testing::insertWorkload(*database_, "job-run2", "w-run2", "w-job", "Running");
  testing::insertPod(*database_, "team", "train-2", "pod-2", "node-a", true);
  testing::reference(*database_, "w-job", "pod-2");
  testing::reference(*database_, "w-run2", "pod-2");
  testing::HttpClient client(port_);
  ASSERT_TRUE(testing::waitFor(
      [&] { return client.get("/pods/workload/cache").body.find("train-2") != std::string::npos; },
      60s, 50ms))
      << "the cache never saw train-2";
  const std::string restart = "[" + record("train-2", "pod-2", startLine(0)) + "," +
                              record("train-2", "pod-2", performanceLine(1)) + "]";
  ASSERT_EQ(post(restart).status, 200u);
  expectCount(kRunEvents, 4);
  expectCount(
      "workload_event WHERE workload_uid = 'w-job' AND nearest_workload_uid = 'w-run2' "
      "AND run_serial = 2",
      1);
  expectCount(
      "workload_event WHERE workload_uid = 'w-run2' AND nearest_workload_uid = 'w-run2' "
      "AND run_serial = 1",
      1);
  expectCount("training_performance WHERE iteration = 1 AND workload_uid = 'w-job' AND serial = 2",
              1);
  expectCount("training_performance WHERE iteration = 1 AND workload_uid = 'w-run2' AND serial = 1",
              1);
  expectCount("training_performance", 22);

  const std::string metrics = client.get("/metrics").body;
  EXPECT_THAT(testing::metricLines(metrics, "workload_event_create_count"),
              HasSubstr("workload_event_create_count 4"));
  // Records without kubernetes.host count under the client's address.
  EXPECT_THAT(testing::metricLines(metrics, "log_consume_latency_seconds_count"),
              HasSubstr(R"(log_consume_latency_seconds_count{node="127.0.0.1"} 4)"));
  EXPECT_THAT(testing::metricLines(metrics, "log_analysis_consume_count"),
              HasSubstr(R"(log_analysis_consume_count{type="StartTrain"} 257)"));
  EXPECT_THAT(testing::metricLines(metrics, "training_pattern_hits_total"),
              HasSubstr(R"(training_pattern_hits_total{format="primus-hip"} 41)"));
  EXPECT_THAT(testing::metricLines(metrics, "log_records_not_analysed_total"),
              HasSubstr(R"(log_records_not_analysed_total{reason="own_pod"} 4)"));
  EXPECT_THAT(testing::metricLines(metrics, "log_records_skipped_total"),
              HasSubstr(R"(log_records_skipped_total{reason="invalid_date"} 4)"));
  EXPECT_THAT(testing::metricLines(metrics, "log_consume_latency_seconds_count"),
              HasSubstr(R"(log_consume_latency_seconds_count{node="node-a"} 322)"));
  EXPECT_THAT(
      testing::metricLines(
          metrics, "log_consume_latency_histogram_seconds_bucket{node=\"node-a\",le=\"+Inf\"}"),
      HasSubstr(R"(log_consume_latency_histogram_seconds_bucket{node="node-a",le="+Inf"} 322)"));
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST_P(LogsPathTest, MalformedBodiesAreRefusedWithAReasonAndChangeNothing) {
  const std::string valid = trainingBatch(1, 2);
  const std::vector<testing::BadBody> cases = {
      {"not json", "this is not json", kJson, "", 400, "invalid JSON"},
      {"object instead of array", record("train-0", "pod-0", startLine(0)), kJson, "", 400,
       "expected a JSON array"},
      {"empty body", "", kJson, "", 400, "empty body"},
      {"truncated", valid.substr(0, valid.size() / 2), kJson, "", 400, "invalid JSON"},
      {"deep nesting", "[" + nested(10'000) + "]", kJson, "", 400, "nested deeper"},
      {"deep nesting in a record", R"([{"date": 1, "x": )" + nested(200) + "}]", kJson, "", 400,
       "nested deeper"},
      {"huge string", R"([{"date": 1, "log": ")" + std::string(2 << 20, 'a') + "\"}]", kJson, "",
       413, "exceeds the limit"},
      {"invalid utf-8", "[{\"date\": 1, \"log\": \"\xc3\x28\"}]", kJson, "", 400, "UTF-8"},
      {"gzip bomb", testing::gzipCompress(std::string(100 << 20, ' ')), kJson, "gzip", 413,
       "http.maxDecodedBytes"},
      {"corrupt gzip", "\x1f\x8b\x08\x00garbage", kJson, "gzip", 400, "cannot decode gzip"},
      {"truncated gzip", testing::gzipCompress(valid).substr(0, 40), kJson, "gzip", 400,
       "cannot decode gzip"},
      {"unsupported encoding", valid, kJson, "br", 415, "unsupported Content-Encoding 'br'"},
      {"unsupported type", std::string("\x91\x81\xa3log", 6), "application/msgpack", "", 415,
       "unsupported Content-Type 'application/msgpack'"},
      {"trailing garbage", valid + " [", kJson, "", 400, "invalid JSON"},
      {"lines: broken second line", "{\"date\": 1}\n{\"date\": 2,", "application/x-ndjson", "", 400,
       "line 2"},
      {"lines: two values on a line", "{\"date\": 1} {\"date\": 2}", "application/x-ndjson", "",
       400, "more than one value"},
      {"nul bytes", std::string(100, '\0'), kJson, "", 400, "invalid JSON"},
      {"bad escape", R"([{"date": 1, "log": "\x41"}])", kJson, "", 400, "invalid JSON"},
  };
  for (const testing::BadBody& test : cases) {
    const auto result = post(test.body, test.content_type, test.encoding);
    EXPECT_EQ(result.status, test.status) << test.name << ": " << result.body;
    EXPECT_THAT(result.body, HasSubstr(test.reason)) << test.name;
    EXPECT_THAT(result.body, HasSubstr(R"("code":4001)")) << test.name;
  }
  testing::HttpClient client(port_);
  EXPECT_EQ(client.get("/healthz").status, 200u);
  // Every refusal was answered; had one been journaled, it would show as pending until written.
  ASSERT_TRUE(allWritten());
  EXPECT_EQ(count(kRunEvents), 0);
  EXPECT_EQ(count("training_performance"), 0);
  EXPECT_THAT(testing::metricLines(client.get("/metrics").body, "log_records_received_total"),
              HasSubstr("log_records_received_total 0"));
  // Still serving: a valid batch after all that is processed.
  ASSERT_EQ(post(valid).status, 200u);
  expectCount("training_performance", 4);
}

TEST_P(LogsPathTest, TwoReplicasOnOneDatabaseWriteOneEventPerRun) {
  std::vector<std::string> env;
  std::vector<std::string> args = testing::databaseFlags(server_->dbConfig(), &env);
  args.push_back("--training.flushInterval=20ms");
  std::unique_ptr<testing::ChildProcess> replica;
  const uint16_t replica_port = testing::startProcessor(replica, args, env);
  ASSERT_NE(replica_port, 0);
  // Both replicas get the same ranks' output at the same time, twice.
  for (int round = 0; round < 2; ++round) {
    std::thread other([&] { EXPECT_EQ(postTo(replica_port, trainingBatch(1, 5)).status, 200u); });
    EXPECT_EQ(post(trainingBatch(1, 5)).status, 200u);
    other.join();
  }
  expectCount(kRunEvents, 2, {replica_port});
  expectCount(std::string(kRunEvents) + " AND run_serial = 1", 2, {replica_port});
  expectCount("training_performance", 10, {replica_port});
  testing::stopProcessor(*replica);
}

// The database goes away while logs stream: batches are still answered 200 while the row buffer
// has room, 503 with Retry-After when it has not; once the database is back every row arrives,
// exactly once.
class LogsDuringOutageTest : public LogsPathTest {
 protected:
  void SetUp() override { start(GetParam(), {"--training.bufferRows=300"}); }
};

TEST_P(LogsDuringOutageTest, RowsWaitForTheDatabaseAndArriveOnceItIsBack) {
  server_->stop();
  const auto first = post(trainingBatch(1, 5));  // 128 events + 20 rows
  EXPECT_EQ(first.status, 200u) << first.body;
  const auto second = post(trainingBatch(6, 10));  // 148 more: 296 of 300
  EXPECT_EQ(second.status, 200u) << second.body;
  const auto third = post(trainingBatch(11, 15));
  EXPECT_EQ(third.status, 503u) << third.body << processor_->output();
  EXPECT_THAT(third.body, HasSubstr("training row buffer full"));
  EXPECT_EQ(third.headers["Retry-After"], "5");
  ASSERT_TRUE(processor_->waitForOutput("training rows: a batch was not written", 20s))
      << processor_->output();

  server_->start();
  (void)database_->run([](soci::session& sql) { sql << "SELECT 1"; });  // drops a stale connection
  expectCount(kRunEvents, 2);
  expectCount("training_performance", 20);
  expectCount("training_performance WHERE iteration BETWEEN 11 AND 15", 0);
  testing::HttpClient client(port_);
  const std::string metrics = client.get("/metrics").body;
  EXPECT_GT(testing::metricValue(metrics, "database_write_errors_total"), 0);
  EXPECT_EQ(testing::metricValue(metrics, "training_rows_pending"), 0);
  EXPECT_EQ(testing::metricValue(metrics, R"(log_rejected_requests_total\{status="503"\})"), 1);
  // The refused batch, sent again, is taken now.
  EXPECT_EQ(post(trainingBatch(11, 15)).status, 200u);
  expectCount("training_performance", 30);
  if (HasFailure()) ADD_FAILURE() << processor_->output();
}

// The database is down while logs stream (TP_DB_OUTAGE_SECONDS, 5 s in CI, 60 s in
// docs/RELIABILITY.md): every batch is answered 200 from the journal, and once the database is
// back every row is there exactly once.
TEST_P(LogsPathTest, RowsStreamedThroughADatabaseOutageArriveExactlyOnce) {
  const char* configured = std::getenv("TP_DB_OUTAGE_SECONDS");
  const auto outage = std::chrono::seconds(configured != nullptr ? std::atoi(configured) : 5);
  if (GetParam() == "sqlite") GTEST_SKIP() << "an embedded database has no outage";
  server_->stop();
  const auto began = std::chrono::steady_clock::now();
  int batches = 0;
  while (std::chrono::steady_clock::now() - began < outage) {
    const auto answer = post(trainingBatch(batches * 5 + 1, batches * 5 + 5));
    ASSERT_EQ(answer.status, 200u) << answer.body;
    ++batches;
    std::this_thread::sleep_for(100ms);
  }
  server_->start();
  (void)database_->run([](soci::session& sql) { sql << "SELECT 1"; });  // drops a stale connection
  expectCount("training_performance", 10LL * batches);  // 5 iterations x 2 workloads per batch
  expectCount(kRunEvents, 2);
  std::cout << GetParam() << ": " << batches << " batches (" << 10 * batches
            << " rows) accepted during a " << outage.count()
            << " s outage, all written once afterwards\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, LogsDuringOutageTest, ::testing::Values("postgres", "mysql"),
                         [](const auto& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Backends, LogsPathTest, ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
