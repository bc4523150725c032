// Training health end to end: two replicas of the real binary on one PostgreSQL or MariaDB
// database, each given part of a job's Fluent Bit batches (as Fluent Bit's connections move
// between replicas). A run whose log stops gets exactly one TrainingStalled within threshold +
// check interval, and one TrainingResumed when its iterations come back; a NaN loss, a loss spike,
// a throughput drop and its recovery, and a rewind each give exactly one event; the goodput
// API's figures are those computed by hand below.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include "rapidjson/document.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/fluentbit_records.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tp {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

constexpr std::string_view kPrefix =
    "[20251023 12:40:00][rank-7/8][INFO]     [--------trainer.py:2382] : ";

struct Iteration {
  int iteration = 0;
  double loss = 2.0;
  double tflops = 400;
};

// A Primus HIP iteration line of a 10 s step.
std::string iterationLine(const Iteration& at) {
  const std::string loss = std::isnan(at.loss) ? "nan" : std::to_string(at.loss);
  return std::string(kPrefix) + "iteration " + std::to_string(at.iteration) +
         "/    1000 | consumed samples: " + std::to_string(at.iteration * 64) +
         " | elapsed time per iteration (ms): 10000.0/10000.0 | hip mem "
         "usage/free/total/usage_ratio: 117.23GB/74.75GB/191.98GB/61.06% | throughput per GPU "
         "(TFLOP/s/GPU): " +
         std::to_string(at.tflops) + "/" + std::to_string(at.tflops) +
         " | tokens per GPU (tokens/s/GPU): 1234.5/1200.0 | learning rate: 1.0E-04 | global "
         "batch size: 64 | lm loss: " +
         loss + " | loss scale: 1.0 | grad norm: 2.345 | number of skipped iterations: 0 | " +
         "number of nan iterations: 0 |";
}

std::string startLine() { return std::string(kPrefix) + "training ..."; }
std::string endLine() {
  return std::string(kPrefix) + "[after training is done] datetime: 2025-10-23 12:57:00.000000 ";
}

struct Line {
  std::string text;
  double time = 0;
};

class TrainingHealthTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = testing::startDatabase(GetParam());
    auto database = storage::Database::create(server_->dbConfig());
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    testing::insertRestartedJob(*database_);
  }

  void TearDown() override {
    for (auto& replica : replicas_) testing::stopProcessor(*replica);
  }

  // Two replicas with these health settings.
  void startReplicas(const std::vector<std::string>& health) {
    for (int i = 0; i < 2; ++i) {
      std::vector<std::string> env;
      std::vector<std::string> args = testing::databaseFlags(server_->dbConfig(), &env);
      args.insert(args.end(), {"--cache.refreshInterval=200ms", "--training.flushInterval=20ms",
                               "--training.retryMaxBackoff=200ms"});
      args.insert(args.end(), health.begin(), health.end());
      auto& replica = replicas_.emplace_back();
      const uint16_t port = testing::startProcessor(replica, args, env);
      ASSERT_NE(port, 0);
      ports_.push_back(port);
    }
    // Both must see the cluster state before lines arrive, or they would skip them.
    ASSERT_TRUE(testing::waitFor([&] { return ready(); }, 60s, 50ms));
  }

  bool ready() {
    return std::all_of(ports_.begin(), ports_.end(), [](uint16_t port) {
      return testing::HttpClient(port).get("/readyz").status == 200u;
    });
  }

  // Posts `lines` of `pod` in batches of `per_batch`, alternately to the two replicas.
  void post(const std::string& pod, const std::string& pod_uid, const std::vector<Line>& lines,
            size_t per_batch = 5) {
    for (size_t first = 0, batch = 0; first < lines.size(); first += per_batch, ++batch) {
      std::string body = "[";
      for (size_t i = first; i < std::min(lines.size(), first + per_batch); ++i) {
        body += (i > first ? ",\n" : "") +
                testing::fluentBitRecord(pod, pod_uid, lines[i].text, lines[i].time);
      }
      body += "]";
      testing::HttpClient client(ports_[batch % ports_.size()]);
      const testing::HttpResult result = client.request(http::verb::post, "/v1/logs", body,
                                                        {{"Content-Type", "application/json"}});
      ASSERT_EQ(result.status, 200u) << result.body;
    }
    ASSERT_TRUE(testing::waitFor([&] { return written(); }, 60s, 50ms));
  }

  bool written() {
    return std::all_of(ports_.begin(), ports_.end(), [](uint16_t port) {
      const std::string metrics = testing::HttpClient(port).get("/metrics").body;
      return testing::metricValue(metrics, "training_rows_pending").value_or(1) == 0;
    });
  }

  double checks(uint16_t port) {
    return testing::metricValue(testing::HttpClient(port).get("/metrics").body,
                                "training_health_checks_total")
        .value_or(0);
  }

  // Both replicas have finished `more` checks since now: whatever they were to record is.
  void afterChecks(int more) {
    std::vector<double> before;
    for (uint16_t port : ports_) before.push_back(checks(port));
    ASSERT_TRUE(testing::waitFor(
        [&] {
          for (size_t i = 0; i < ports_.size(); ++i) {
            if (checks(ports_[i]) < before[i] + more) return false;
          }
          return true;
        },
        60s, 50ms));
  }

  // The events of the job (its leaf workloads have their own).
  long long events(const std::string& type) {
    return testing::queryNumber(
        *database_,
        "SELECT count(*) FROM workload_event WHERE workload_uid = 'w-job' AND type = '" + type +
            "'");
  }

  // The job's events and rows, for a failure's message.
  std::string describe() {
    std::string text;
    auto status = database_->run([&](soci::session& sql) {
      soci::rowset<soci::row> rows =
          (sql.prepare << "SELECT type, run_serial, occurrence FROM workload_event WHERE "
                          "workload_uid = 'w-job' ORDER BY id");
      for (const soci::row& row : rows) {
        text += row.get<std::string>(0) + " run " + std::to_string(row.get<int>(1)) +
                (row.get_indicator(2) == soci::i_ok ? " at " + std::to_string(row.get<long long>(2))
                                                    : std::string()) +
                "\n";
      }
    });
    EXPECT_TRUE(status.ok()) << status;
    text +=
        "rows: " +
        std::to_string(testing::queryNumber(
            *database_, "SELECT count(*) FROM training_performance WHERE workload_uid = 'w-job'"));
    return text;
  }

  // The detail of the job's only event of `type`.
  rapidjson::Document detail(const std::string& type) {
    rapidjson::Document document;
    auto rows = database_->run([&](soci::session& sql) {
      std::string text;
      sql << "SELECT detail FROM workload_event WHERE workload_uid = 'w-job' AND type = :t",
          soci::use(type), soci::into(text);
      document.Parse(text.c_str());
    });
    EXPECT_TRUE(rows.ok()) << rows;
    EXPECT_TRUE(document.IsObject()) << type;
    return document;
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> database_;
  std::vector<std::unique_ptr<testing::ChildProcess>> replicas_;
  std::vector<uint16_t> ports_;
};

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_P(TrainingHealthTest, ARunWhoseLogStopsStallsOnceAndResumesOnce) {
  // Threshold max(2 × 0.5 s, 6 s) = 6 s; checked every 300 ms.
  startReplicas({"--training.stall.factor=2", "--training.stall.minimum=6s",
                 "--training.stall.checkInterval=300ms"});
  // Iterations logged every 0.5 s up to now: the run is running as far as its log says.
  const double last = nowSeconds();
  std::vector<Line> lines = {{startLine(), last - 10.5}};
  for (int i = 1; i <= 20; ++i)
    lines.push_back({iterationLine({.iteration = i}), last - (20 - i) * 0.5});
  post("train-0", "pod-0", lines);

  ASSERT_TRUE(testing::waitFor([&] { return events("TrainingStalled") > 0; }, 60s, 50ms));
  const rapidjson::Document stalled = detail("TrainingStalled");
  EXPECT_EQ(stalled["iteration"].GetInt64(), 20);
  EXPECT_DOUBLE_EQ(stalled["threshold_seconds"].GetDouble(), 6);
  // Found once the threshold ran out after the last iteration, and within threshold + check
  // interval (6.3 s) of it, with a generous allowance for the posting and a check's own time on a
  // busy machine; the simulated-clock tests pin the latency exactly.
  EXPECT_GE(stalled["waited_seconds"].GetDouble(), 6);
  EXPECT_LE(stalled["waited_seconds"].GetDouble(), 6.3 + 20);
  // The last iteration's log time, to the microsecond its double-precision date allows.
  EXPECT_NEAR(static_cast<double>(stalled["last_progress_us"].GetInt64()), last * 1e6, 2);
  afterChecks(3);
  EXPECT_EQ(events("TrainingStalled"), 1) << "each replica checked again";
  {
    testing::HttpClient client(ports_[1]);
    const std::string runs = client.get("/v1/training/runs?workload_uid=w-job").body;
    EXPECT_NE(runs.find(R"("state":"stalled")"), std::string::npos) << runs;
  }

  // The iterations come back, and the run ends.
  const double resumed = nowSeconds();
  lines.clear();
  for (int i = 21; i <= 25; ++i)
    lines.push_back({iterationLine({.iteration = i}), resumed + (i - 21) * 0.5});
  lines.push_back({endLine(), resumed + 2.5});
  post("train-0", "pod-0", lines, 2);
  ASSERT_TRUE(testing::waitFor([&] { return events("TrainingResumed") > 0; }, 60s, 50ms))
      << describe();
  afterChecks(3);
  EXPECT_EQ(events("TrainingResumed"), 1);
  EXPECT_EQ(events("TrainingStalled"), 1);
  const rapidjson::Document resumption = detail("TrainingResumed");
  // The first iteration after the stall that was in the database when a replica checked: the
  // batches of 21..25 reach the two replicas' writers in either order.
  EXPECT_GE(resumption["iteration"].GetInt64(), 21);
  EXPECT_LE(resumption["iteration"].GetInt64(), 25);
  EXPECT_EQ(resumption["stalled_iteration"].GetInt64(), 20);
}

TEST_P(TrainingHealthTest, EachAnomalyIsOneEventAndGoodputIsTheFigureByHand) {
  // Stalls are not this test's subject: none can hold.
  startReplicas({"--training.stall.minimum=100000h", "--training.stall.checkInterval=200ms"});
  // Fifteen minutes of training that ended a minute ago (runs are judged up to an hour after
  // they end).
  const double start = nowSeconds() - 960;
  // Run 1: iterations 1..60 at 70..660 s (10 s steps): a NaN loss at 25, a loss spike (5 × the
  // median) at 35, half the TFLOPS at 45..50 and back at 51.
  std::vector<Line> run1 = {{startLine(), start}};
  for (int i = 1; i <= 60; ++i) {
    Iteration at{.iteration = i};
    if (i == 25) at.loss = std::nan("");
    if (i == 35) at.loss = 10;
    if (i >= 45 && i <= 50) at.tflops = 200;
    run1.push_back({iterationLine(at), start + 60 + 10 * i});
  }
  post("train-0", "pod-0", run1);
  // Run 2 resumes from a checkpoint of iteration 40 at 800 s: 41..45 at 850..890 s, ends at 900 s.
  std::vector<Line> run2 = {{startLine(), start + 800}};
  for (int i = 41; i <= 45; ++i) {
    run2.push_back({iterationLine({.iteration = i}), start + 850 + 10 * (i - 41)});
  }
  run2.push_back({endLine(), start + 900});
  post("train-1", "pod-1", run2, 2);

  ASSERT_TRUE(testing::waitFor([&] { return events("IterationRewind") > 0; }, 60s, 50ms))
      << describe();
  afterChecks(3);
  EXPECT_EQ(events("NanIterations"), 1);
  EXPECT_EQ(events("LossSpike"), 1);
  EXPECT_EQ(events("ThroughputDrop"), 1);
  EXPECT_EQ(events("ThroughputRecovered"), 1);
  EXPECT_EQ(events("IterationRewind"), 1);
  EXPECT_EQ(events("TrainingStalled"), 0);
  EXPECT_EQ(detail("NanIterations")["iteration"].GetInt64(), 25);
  EXPECT_EQ(detail("LossSpike")["iteration"].GetInt64(), 35);
  EXPECT_DOUBLE_EQ(detail("ThroughputDrop")["baseline"].GetDouble(), 400);
  EXPECT_EQ(detail("ThroughputDrop")["iteration"].GetInt64(), 45);
  // The first stretch back at full throughput that was in the database when a replica checked.
  EXPECT_GE(detail("ThroughputRecovered")["iteration"].GetInt64(), 51);
  EXPECT_LE(detail("ThroughputRecovered")["iteration"].GetInt64(), 56);
  EXPECT_EQ(detail("IterationRewind")["previous_last_iteration"].GetInt64(), 60);
  EXPECT_EQ(detail("IterationRewind")["redone_iterations"].GetInt64(), 20);

  // By hand: wall 0 → 900 s. Productive: run 1's 60 iterations of 10 s. Redone: run 2's 41..45,
  // below run 1's 60. Restarts: run 1's last progress at 660 s → run 2's first work at 840 s.
  // Other: run 1's start-up (0 → 60 s) and 890 → 900 s.
  const double wall = 900, productive = 60 * 10, redone = 5 * 10, restarts = 840 - 660;
  const double other = wall - productive - redone - restarts;
  testing::HttpClient client(ports_[0]);
  const testing::HttpResult answer = client.get("/v1/training/w-job/goodput");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  rapidjson::Document body;
  body.Parse(answer.body.c_str());
  ASSERT_TRUE(body.IsObject()) << answer.body;
  const auto& goodput = body["data"];
  EXPECT_DOUBLE_EQ(goodput["wall_seconds"].GetDouble(), wall);
  EXPECT_DOUBLE_EQ(goodput["productive_seconds"].GetDouble(), productive);
  EXPECT_DOUBLE_EQ(goodput["ratio"].GetDouble(), productive / wall);
  EXPECT_DOUBLE_EQ(goodput["lost_seconds"]["redone"].GetDouble(), redone);
  EXPECT_DOUBLE_EQ(goodput["lost_seconds"]["restarts"].GetDouble(), restarts);
  EXPECT_DOUBLE_EQ(goodput["lost_seconds"]["stalls"].GetDouble(), 0);
  EXPECT_DOUBLE_EQ(goodput["lost_seconds"]["checkpoints"].GetDouble(), 0);
  EXPECT_DOUBLE_EQ(goodput["lost_seconds"]["other"].GetDouble(), other);
  EXPECT_EQ(goodput["runs"].GetInt(), 2);
  // The other replica answers the same.
  EXPECT_EQ(testing::HttpClient(ports_[1]).get("/v1/training/w-job/goodput").body, answer.body);
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainingHealthTest, ::testing::Values("postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
