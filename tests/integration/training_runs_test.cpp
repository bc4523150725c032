// Training runs end to end, on the real binary with a real VictoriaMetrics and each database: a
// Primus job's Fluent Bit batches (start, iterations with one NaN loss, a checkpoint save, a
// resume from it as run 2 with a load, the end of training) become training series with their
// exact labels and values at the log times, checkpoint_event operations, EndTrain events and
// two runs in the runs API. The same batches again, and two replicas taking them at once, change
// no row and no query result.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "rapidjson/document.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/victoria_metrics.h"
#include "support/wait.h"

namespace tp {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

constexpr double kRunStart = 1761223200.0;  // 2025-10-23 12:40:00 UTC
constexpr int kNanIteration = 15;

std::string primusPrefix(int rank) {
  return "[20251023 12:40:00][rank-" + std::to_string(rank) + "/8][DEBUG]    " +
         "[-----------utils.py:401] : ";
}

double lossAt(int iteration) { return 10.0 - 0.25 * iteration; }

// A Primus HIP iteration line from the last rank, with the loss of `iteration`.
std::string iterationLine(int iteration) {
  const std::string loss =
      iteration == kNanIteration ? std::string("nan") : std::to_string(lossAt(iteration));
  return "[20251023 12:40:00][rank-7/8][INFO]     [--------trainer.py:2382] : iteration " +
         std::to_string(iteration) +
         "/      20 | consumed samples: " + std::to_string(iteration * 64) +
         " | elapsed time per iteration (ms): 1500.0/1510.0 | hip mem "
         "usage/free/total/usage_ratio: 117.23GB/74.75GB/191.98GB/61.06% | throughput per GPU "
         "(TFLOP/s/GPU): 398.6/384.3 | tokens per GPU (tokens/s/GPU): 1234.5/1200.0 | learning "
         "rate: 1.0E-04 | global batch size: 64 | lm loss: " +
         loss + " | loss scale: 1.0 | grad norm: 2.345 | number of skipped iterations: 0 | " +
         "number of nan iterations: " + (iteration >= kNanIteration ? "1" : "0") + " |";
}

// The log time of line `index` of a run's batch: one second apart.
double timeOf(int run, int index) { return kRunStart + (run - 1) * 1000 + index; }

struct Batch {
  std::string body;
  std::map<int, double> iteration_times;  // iteration -> log time (s)
};

// Run 1 on pod train-0: start, iterations 1..10, a save at 10. Run 2 on pod train-1 (the job
// restarted under a new leaf workload): a load of that checkpoint, start, iterations 11..20, end.
Batch runBatch(int run) {
  Batch batch;
  std::vector<std::string> records;
  const std::string pod = run == 1 ? "train-0" : "train-1";
  const std::string pod_uid = run == 1 ? "pod-0" : "pod-1";
  const auto add = [&](const std::string& line) {
    records.push_back(testing::fluentBitRecord(pod, pod_uid, line,
                                               timeOf(run, static_cast<int>(records.size()))));
  };
  if (run == 2) {
    add(primusPrefix(0) + " loading distributed checkpoint from /ckpt/llama at iteration 10");
    add(primusPrefix(0) +
        "  successfully loaded checkpoint from /ckpt/llama [ t 1/8, p 1/1 ] at iteration 10");
  }
  add(primusPrefix(0) + "training ...");
  for (int iteration = run == 1 ? 1 : 11; iteration <= (run == 1 ? 10 : 20); ++iteration) {
    batch.iteration_times[iteration] = timeOf(run, static_cast<int>(records.size()));
    add(iterationLine(iteration));
  }
  if (run == 1) {
    add(primusPrefix(0) + "[2025-10-23 12:40:12.000000] saving checkpoint at iteration      10 " +
        "to /ckpt/llama in torch_dist format");
    add(primusPrefix(0) + "  [2025-10-23 12:40:15.000000] successfully saved checkpoint from " +
        "iteration      10 to /ckpt/llama [ t 1/8, p 1/1 ]");
  } else {
    add(primusPrefix(0) + "[after training is done] datetime: 2025-10-23 12:57:00.000000 ");
  }
  batch.body = "[";
  for (const std::string& record : records) {
    batch.body += (batch.body.size() > 1 ? ",\n" : "") + record;
  }
  batch.body += "]";
  return batch;
}

class TrainingRunsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    vm_ = std::make_unique<testing::VictoriaMetrics>(dir_.path() / "vm");
    server_ = testing::startDatabase(GetParam());
    auto database = storage::Database::create(server_->dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    testing::insertRestartedJob(*database_);
    port_ = startReplica(processor_);
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    if (processor_) testing::stopProcessor(*processor_);
  }

  uint16_t startReplica(std::unique_ptr<testing::ChildProcess>& replica) {
    std::vector<std::string> env;
    std::vector<std::string> args = testing::databaseFlags(server_->dbConfig(), &env);
    args.insert(args.end(),
                {"--metricsWrite.endpoints=" + vm_->url(), "--metricsWrite.retryMaxBackoff=300ms",
                 "--cache.refreshInterval=200ms", "--training.flushInterval=20ms",
                 "--training.retryMaxBackoff=200ms"});
    return testing::startProcessor(replica, args, env);
  }

  static void post(uint16_t port, const std::string& body) {
    testing::HttpClient client(port);
    const testing::HttpResult result =
        client.request(http::verb::post, "/v1/logs", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(result.status, 200u) << result.body;
  }

  long long count(const std::string& where_sql) {
    return testing::queryNumber(*database_, "SELECT count(*) FROM " + where_sql);
  }

  // Every processor on `ports` has written what it accepted, and its samples have left its queue.
  static bool settled(const std::vector<uint16_t>& ports) {
    return std::all_of(ports.begin(), ports.end(), [](uint16_t port) {
      testing::HttpClient client(port);
      const std::string metrics = client.get("/metrics").body;
      return testing::metricValue(metrics, "training_rows_pending").value_or(1) == 0 &&
             testing::metricValue(metrics, R"(remote_write_pending_batches\{[^}]*\})")
                     .value_or(1) == 0;
    });
  }

  // What the database and storage hold: every count and query result the test compares.
  std::string state() {
    std::string out;
    // The writer's events: health events come as time passes (w-run1's run, whose log stopped a
    // year ago, is found stalled).
    for (const char* table :
         {"training_performance", "workload_event WHERE type IN ('StartTrain', 'EndTrain')",
          "workload_event WHERE type = 'EndTrain'", "checkpoint_event",
          "checkpoint_event WHERE status = 'success'"}) {
      out += std::string(table) + ": " + std::to_string(count(table)) + "\n";
    }
    // Storage may hold a replayed sample twice (VictoriaMetrics without deduplication keeps
    // both copies of a sample); what a query returns is what must not change.
    for (const char* name : {"workload_training_loss", "workload_training_iteration",
                             "workload_training_checkpoint_seconds"}) {
      out += vm_->queryRange(std::string(name) + "{job=\"primus-lens-telemetry-processor\"}",
                             static_cast<int64_t>(kRunStart) - 60,
                             static_cast<int64_t>(kRunStart) + 2000, 1);
    }
    testing::HttpClient client(port_);
    out += client.get("/v1/training/runs?workload_uid=w-job").body;
    return out;
  }

  // What the batches of both runs give, once written: series, rows, events and runs.
  void expectBothRuns();

  void postBothRunsAndSettle(const std::vector<uint16_t>& ports) {
    for (int run : {1, 2}) post(ports.front(), runBatch(run).body);
    ASSERT_TRUE(testing::waitFor([&] { return settled(ports); }, 60s, 50ms));
  }

  testing::TempDir dir_{"tp-training-runs-"};
  std::unique_ptr<testing::VictoriaMetrics> vm_;
  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> database_;
  std::unique_ptr<testing::ChildProcess> processor_;
  uint16_t port_ = 0;
};

// The samples VictoriaMetrics holds for `selector`, one series expected: timestamp (ms) -> value.
std::map<int64_t, double> samplesOf(testing::VictoriaMetrics& vm, const std::string& selector,
                                    std::map<std::string, std::string>* labels = nullptr) {
  const std::string exported = vm.exportSeries(selector);
  std::map<int64_t, double> samples;
  rapidjson::Document series;
  series.Parse(exported.c_str());
  EXPECT_FALSE(series.HasParseError()) << selector << ": " << exported;
  if (series.HasParseError() || !series.IsObject()) return samples;
  if (labels != nullptr) {
    for (const auto& label : series["metric"].GetObject()) {
      (*labels)[label.name.GetString()] = label.value.GetString();
    }
  }
  const auto& values = series["values"].GetArray();
  const auto& timestamps = series["timestamps"].GetArray();
  for (rapidjson::SizeType i = 0; i < values.Size(); ++i) {
    samples[timestamps[i].GetInt64()] = values[i].GetDouble();
  }
  return samples;
}

int64_t millis(double seconds) { return std::llround(seconds * 1000); }

TEST_P(TrainingRunsTest, APrimusJobsRunsBecomeSeriesCheckpointsEventsAndRuns) {
  postBothRunsAndSettle({port_});
  expectBothRuns();
}

// Fluent Bit's connections move between replicas: both get every batch of a run at once.
TEST_P(TrainingRunsTest, TwoReplicasTakingEveryBatchAtOnceWriteWhatOneWould) {
  std::unique_ptr<testing::ChildProcess> replica;
  const uint16_t replica_port = startReplica(replica);
  ASSERT_NE(replica_port, 0);
  for (int run : {1, 2}) {
    std::thread other([&] { post(replica_port, runBatch(run).body); });
    post(port_, runBatch(run).body);
    other.join();
    ASSERT_TRUE(testing::waitFor([&] { return settled({port_, replica_port}); }, 60s, 50ms));
  }
  expectBothRuns();
  testing::stopProcessor(*replica);
}

void TrainingRunsTest::expectBothRuns() {
  // The loss of run 1 of w-job: exact labels, one sample per iteration at its log time.
  std::map<std::string, std::string> labels;
  const auto run1 =
      samplesOf(*vm_, R"(workload_training_loss{workload_uid="w-job",run="1"})", &labels);
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"__name__", "workload_training_loss"},
                                                        {"job", "primus-lens-telemetry-processor"},
                                                        {"namespace", "team"},
                                                        {"node", "node-a"},
                                                        {"pod_name", "train-0"},
                                                        {"pod_uid", "pod-0"},
                                                        {"rank", "7"},
                                                        {"run", "1"},
                                                        {"workload_name", "job"},
                                                        {"workload_uid", "w-job"}}));
  std::map<int64_t, double> expected;
  for (const auto& [iteration, time] : runBatch(1).iteration_times) {
    expected[millis(time)] = lossAt(iteration);
  }
  EXPECT_EQ(run1, expected);
  // Run 2: the NaN of iteration 15 was sent; VictoriaMetrics keeps no NaN sample (it drops them
  // on ingestion), so the series holds the other nine.
  expected.clear();
  for (const auto& [iteration, time] : runBatch(2).iteration_times) {
    if (iteration != kNanIteration) expected[millis(time)] = lossAt(iteration);
  }
  EXPECT_EQ(samplesOf(*vm_, R"(workload_training_loss{workload_uid="w-job",run="2"})"), expected);
  // The leaf workload of run 2 has its own run 1.
  EXPECT_EQ(samplesOf(*vm_, R"(workload_training_loss{workload_uid="w-run2",run="1"})"), expected);
  // Units: step time in seconds, memory in bytes (Primus's "GB" is 2^30 bytes), ratio 0-1.
  const int64_t first = millis(runBatch(1).iteration_times.at(1));
  EXPECT_EQ(
      samplesOf(*vm_, R"(workload_training_step_seconds{workload_uid="w-job",run="1"})").at(first),
      1.5);
  EXPECT_DOUBLE_EQ(
      samplesOf(*vm_, R"(workload_training_memory_used_bytes{workload_uid="w-job",run="1"})")
          .at(first),
      117.23 * (1ull << 30));
  EXPECT_DOUBLE_EQ(
      samplesOf(*vm_, R"(workload_training_memory_usage_ratio{workload_uid="w-job",run="1"})")
          .at(first),
      0.6106);
  // The save at iteration 10 took the second between the log times of its lines.
  EXPECT_EQ(
      samplesOf(*vm_, R"(workload_training_checkpoint_seconds{workload_uid="w-job",run="1"})"),
      (std::map<int64_t, double>{{millis(timeOf(1, 12)), 1.0}}));

  // One row per workload and iteration; one StartTrain and one EndTrain per run.
  EXPECT_EQ(count("training_performance WHERE workload_uid = 'w-job'"), 20);
  EXPECT_EQ(count("training_performance WHERE workload_uid = 'w-job' AND serial = 2"), 10);
  EXPECT_EQ(count("workload_event WHERE workload_uid = 'w-job' AND type = 'StartTrain'"), 2);
  EXPECT_EQ(count("workload_event WHERE workload_uid = 'w-job' AND type = 'EndTrain' AND "
                  "run_serial = 2 AND nearest_workload_uid = 'w-run2'"),
            1);
  EXPECT_EQ(count("workload_event WHERE workload_uid = 'w-run1' AND type = 'EndTrain'"), 0);
  // The save, complete with its duration, in run 1; the load in run 2.
  EXPECT_EQ(count("checkpoint_event WHERE workload_uid = 'w-job'"), 2);
  EXPECT_EQ(count("checkpoint_event WHERE workload_uid = 'w-job' AND serial = 1 AND "
                  "iteration = 10 AND event_type = 'end_saving' AND status = 'success' AND "
                  "duration_ms = 1000 AND checkpoint_path = '/ckpt/llama'"),
            1);
  EXPECT_EQ(count("checkpoint_event WHERE workload_uid = 'w-job' AND serial = 2 AND "
                  "iteration = 10 AND event_type = 'loading' AND status = 'success' AND "
                  "duration_ms = 1000"),
            1);

  // The runs API: two runs of w-job, run 1 superseded by the restart, run 2 ended by its EndTrain.
  testing::HttpClient client(port_);
  const testing::HttpResult runs = client.get("/v1/training/runs?workload_uid=w-job");
  ASSERT_EQ(runs.status, 200u) << runs.body;
  rapidjson::Document document;
  document.Parse(runs.body.c_str());
  ASSERT_FALSE(document.HasParseError()) << runs.body;
  const auto& list = document["data"]["runs"].GetArray();
  ASSERT_EQ(list.Size(), 2u) << runs.body;
  EXPECT_EQ(list[0]["serial"].GetInt(), 1);
  EXPECT_EQ(list[0]["state"].GetString(), std::string("superseded"));
  EXPECT_EQ(list[0]["last_iteration"].GetInt64(), 10);
  EXPECT_EQ(list[0]["checkpoints"]["count"].GetInt(), 1);
  EXPECT_EQ(list[1]["serial"].GetInt(), 2);
  EXPECT_EQ(list[1]["state"].GetString(), std::string("ended"));
  EXPECT_EQ(list[1]["last_iteration"].GetInt64(), 20);
  EXPECT_EQ(list[1]["target_iterations"].GetInt64(), 20);
}

TEST_P(TrainingRunsTest, TheSameBatchesAgainAndTwoReplicasAtOnceChangeNothing) {
  postBothRunsAndSettle({port_});
  const std::string before = state();

  postBothRunsAndSettle({port_});
  EXPECT_EQ(state(), before);

  std::unique_ptr<testing::ChildProcess> replica;
  const uint16_t replica_port = startReplica(replica);
  ASSERT_NE(replica_port, 0);
  std::thread other([&] {
    for (int run : {1, 2}) post(replica_port, runBatch(run).body);
  });
  for (int run : {1, 2}) post(port_, runBatch(run).body);
  other.join();
  ASSERT_TRUE(testing::waitFor([&] { return settled({port_, replica_port}); }, 60s, 50ms));
  EXPECT_EQ(state(), before);
  testing::stopProcessor(*replica);
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainingRunsTest,
                         ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
