// The training-health detector against a real SQLite database and a simulated clock: what it
// records for each situation the rules name, once however often or by however many replicas it
// checks, and the series the lease holder sends.

#include "training/health_monitor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "remote_v1.pb.h"
#include "storage/schema.h"
#include "storage/training_health.h"
#include "storage/training_rows.h"
#include "support/checkpoint_rows.h"
#include "support/cluster_rows.h"
#include "support/recording_sink.h"
#include "support/simulated_clock.h"
#include "support/temp_dir.h"

namespace tp::training {
namespace {

using namespace std::chrono_literals;
using storage::HealthEventType;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kMinute = 60 * kSecond;
// The runs' start: 2025-10-23 12:40:00 UTC.
constexpr int64_t kStart = 1761223200 * kSecond;

std::vector<std::string_view> eventNames() {
  std::vector<std::string_view> names;
  for (auto type : storage::kHealthEventTypes) names.push_back(storage::nameOf(type));
  return names;
}
std::vector<std::string_view> stateNames() {
  std::vector<std::string_view> names;
  for (auto state : storage::kRunStates) names.push_back(storage::nameOf(state));
  return names;
}

std::string performance(double loss, double tflops) {
  return common::concat(R"({"lm_loss":)", loss, R"(,"tflops":)", tflops,
                        R"(,"elapsed_time_per_iteration_ms":10000})");
}

class HealthMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::DbConfig config;
    config.path = (dir_ / "lens.db").string();
    auto database = storage::Database::create(config);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    testing::insertWorkload(*database_, "job", "w-job", "", "Running");
    startRun(1, "leaf-1", kStart);
  }

  std::unique_ptr<HealthMonitor> monitor(forward::BatchSink* sink = nullptr,
                                         const std::string& replica = "replica-a") {
    return std::make_unique<HealthMonitor>(
        *database_, training_, sink, replica,
        telemetry_.trainingHealthMetrics(eventNames(), stateNames()), clock_);
  }

  void startRun(int serial, const std::string& leaf, int64_t time_us) {
    const storage::RunEvent event{.workload_uid = "w-job",
                                  .nearest_workload_uid = leaf,
                                  .pod_uid = "pod-0",
                                  .run_serial = serial,
                                  .time_us = time_us};
    ASSERT_TRUE(storage::insertStartTrainEvents(*database_, std::span(&event, 1)).ok());
  }
  void endRun(int serial, const std::string& leaf, int64_t time_us) {
    const storage::RunEvent event{.workload_uid = "w-job",
                                  .nearest_workload_uid = leaf,
                                  .pod_uid = "pod-0",
                                  .run_serial = serial,
                                  .time_us = time_us};
    ASSERT_TRUE(storage::insertEndTrainEvents(*database_, std::span(&event, 1)).ok());
  }
  // Iterations first..last of run `serial`, one every `interval_us` from `from_us`.
  void rows(int serial, int64_t first, int64_t last, int64_t from_us,
            int64_t interval_us = 10 * kSecond, double loss = 2.0, double tflops = 100) {
    std::vector<storage::PerformanceRow> batch;
    for (int64_t i = first; i <= last; ++i) {
      batch.push_back({.workload_uid = "w-job",
                       .pod_uid = "pod-0",
                       .performance_json = performance(loss, tflops),
                       .iteration = i,
                       .serial = serial,
                       .time_us = from_us + (i - first) * interval_us});
    }
    ASSERT_TRUE(storage::insertPerformanceRows(*database_, batch).ok());
  }
  void row(int serial, int64_t iteration, int64_t time_us, const std::string& json) {
    const storage::PerformanceRow one{.workload_uid = "w-job",
                                      .pod_uid = "pod-0",
                                      .performance_json = json,
                                      .iteration = iteration,
                                      .serial = serial,
                                      .time_us = time_us};
    ASSERT_TRUE(storage::insertPerformanceRows(*database_, std::span(&one, 1)).ok());
  }
  // A save of run 1's `iteration` at `time_us`: its start to insertCheckpointStarts, its end to
  // completeCheckpoints.
  static storage::CheckpointLine save(int64_t iteration, int64_t time_us,
                                      std::optional<int64_t> duration_ms = std::nullopt) {
    return {.workload_uid = "w-job",
            .pod_uid = "pod-0",
            .serial = 1,
            .iteration = iteration,
            .path = common::concat("/ckpt/iter_", iteration),
            .operation = storage::CheckpointOperation::kSave,
            .time_us = time_us,
            .duration_ms = duration_ms};
  }
  // Moves the simulated wall clock to `time_us`.
  void at(int64_t time_us) {
    const int64_t now =
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.wallNow().time_since_epoch())
            .count();
    ASSERT_GE(time_us, now);
    clock_.advance(std::chrono::microseconds(time_us - now));
  }
  std::vector<storage::HealthEvent> events(std::optional<HealthEventType> type = std::nullopt) {
    auto all = storage::readHealthEvents(*database_, "w-job");
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<storage::HealthEvent> kept;
    for (auto& event : *all) {
      if (!type || event.type == *type) kept.push_back(std::move(event));
    }
    return kept;
  }
  storage::RunState stateOf(int serial) {
    auto page = storage::listRuns(*database_, {.workload_uid = "w-job"});
    EXPECT_TRUE(page.ok()) << page.status();
    for (const auto& run : page->runs) {
      if (run.serial == serial) return run.state;
    }
    ADD_FAILURE() << "no run " << serial;
    return storage::RunState::kRunning;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> database_;
  config::TrainingConfig training_;
  telemetry::Telemetry telemetry_{"test"};
  testing::SimulatedClock clock_{
      std::chrono::system_clock::time_point(std::chrono::microseconds(kStart))};
};

TEST_F(HealthMonitorTest, AStallIsRecordedOnceAndItsResumptionWhenIterationsReturn) {
  rows(1, 1, 20, kStart + 10 * kSecond);  // the last at 200 s
  const int64_t last = kStart + 200 * kSecond;
  auto detector = monitor();
  at(last + 4 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(stateOf(1), storage::RunState::kRunning);

  at(last + 5 * kMinute + 30 * kSecond);  // past the 5-minute minimum
  ASSERT_TRUE(detector->check().ok());
  auto stalled = events(HealthEventType::kTrainingStalled);
  ASSERT_EQ(stalled.size(), 1u);
  EXPECT_EQ(stalled[0].run_serial, 1);
  EXPECT_EQ(stalled[0].occurrence, 20);
  EXPECT_EQ(stalled[0].time_us, last + 5 * kMinute);
  EXPECT_EQ(stateOf(1), storage::RunState::kStalled);

  // Checked again and again, by this replica and a fresh one: still one.
  at(last + 7 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(monitor(nullptr, "replica-b")->check().ok());
  EXPECT_EQ(events(HealthEventType::kTrainingStalled).size(), 1u);

  rows(1, 21, 23, last + 8 * kMinute);
  at(last + 9 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  const auto resumed = events(HealthEventType::kTrainingResumed);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].occurrence, 20);
  EXPECT_EQ(resumed[0].time_us, last + 8 * kMinute);
  EXPECT_EQ(stateOf(1), storage::RunState::kRunning);
  ASSERT_TRUE(detector->check().ok());
  EXPECT_EQ(events().size(), 2u);
}

TEST_F(HealthMonitorTest, NewThresholdsTakeEffectAtTheNextCheck) {
  rows(1, 1, 20, kStart + 10 * kSecond);  // the last at 200 s
  const int64_t last = kStart + 200 * kSecond;
  auto detector = monitor();
  at(last + 4 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  EXPECT_TRUE(events().empty());

  config::TrainingStallConfig stall = training_.stall;
  stall.minimum = std::chrono::minutes(2);
  detector->setThresholds(stall, training_.anomaly);
  ASSERT_TRUE(detector->check().ok());
  const auto stalled = events(HealthEventType::kTrainingStalled);
  ASSERT_EQ(stalled.size(), 1u);
  EXPECT_EQ(stalled[0].time_us, last + 2 * kMinute);
}

// An ended or gone run is still judged (its NaN is recorded), for anomalies only.
TEST_F(HealthMonitorTest, NoStallAfterEndTrain) {
  rows(1, 1, 20, kStart + 10 * kSecond);
  // The last at 203 s: a stall would be due at 503 s.
  row(1, 21, kStart + 203 * kSecond, R"({"lm_loss":"NaN","tflops":100})");
  endRun(1, "leaf-1", kStart + 205 * kSecond);
  auto detector = monitor();
  at(kStart + 205 * kSecond + 10 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  const auto judged = events();
  ASSERT_EQ(judged.size(), 1u) << "the run was judged, and did not stall";
  EXPECT_EQ(judged[0].type, HealthEventType::kNanIterations);
  EXPECT_EQ(stateOf(1), storage::RunState::kEnded);
}

TEST_F(HealthMonitorTest, NoStallWhenTheWorkloadIsGone) {
  rows(1, 1, 20, kStart + 10 * kSecond);
  row(1, 21, kStart + 203 * kSecond, R"({"lm_loss":"NaN","tflops":100})");
  testing::exec(*database_, common::concat("UPDATE gpu_workload SET status = 'Failed', end_at = '",
                                           storage::formatTimestamp(config::DbDriver::kSqlite,
                                                                    kStart + 210 * kSecond),
                                           "' WHERE uid = 'w-job'"));
  auto detector = monitor();
  at(kStart + 210 * kSecond + 10 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  const auto judged = events();
  ASSERT_EQ(judged.size(), 1u) << "the run was judged, and did not stall";
  EXPECT_EQ(judged[0].type, HealthEventType::kNanIterations);
  EXPECT_EQ(stateOf(1), storage::RunState::kGone);
}

TEST_F(HealthMonitorTest, NoStallDuringALongCheckpointSaveUntilTheGraceRunsOut) {
  rows(1, 1, 20, kStart + 10 * kSecond);
  const int64_t save_start = kStart + 205 * kSecond;
  const storage::CheckpointLine started = save(20, save_start);
  ASSERT_TRUE(storage::insertCheckpointStarts(*database_, std::span(&started, 1)).ok());
  auto detector = monitor();
  at(save_start + 29 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  EXPECT_TRUE(events().empty()) << "the save holds the stall off";
  at(save_start + 31 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  const auto stalled = events(HealthEventType::kTrainingStalled);
  ASSERT_EQ(stalled.size(), 1u);
  EXPECT_EQ(stalled[0].time_us, save_start + 30 * kMinute);
  EXPECT_NE(stalled[0].detail_json.find(R"("checkpoint_in_progress":true)"), std::string::npos);
}

TEST_F(HealthMonitorTest, TheRunWhoseLinesStoppedStallsWhileAnotherRunGoesOn) {
  // Run 2 (another leaf workload of the job) stops; run 1 goes on logging.
  rows(1, 1, 100, kStart + 10 * kSecond);
  startRun(2, "leaf-2", kStart + 20 * kSecond);
  rows(2, 1, 10, kStart + 30 * kSecond);  // its last at 120 s
  auto detector = monitor();
  at(kStart + 120 * kSecond + 6 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  const auto stalled = events(HealthEventType::kTrainingStalled);
  ASSERT_EQ(stalled.size(), 1u);
  EXPECT_EQ(stalled[0].run_serial, 2);
  EXPECT_EQ(stalled[0].occurrence, 10);
  EXPECT_EQ(stateOf(1), storage::RunState::kSuperseded) << "not judged";
  EXPECT_EQ(stateOf(2), storage::RunState::kStalled);
}

TEST_F(HealthMonitorTest, AnomaliesAndARewindAreRecordedOnce) {
  rows(1, 1, 30, kStart + 10 * kSecond);
  row(1, 31, kStart + 310 * kSecond, R"({"lm_loss":"NaN","tflops":100})");
  rows(1, 32, 40, kStart + 320 * kSecond);
  row(1, 41, kStart + 410 * kSecond, performance(9.0, 100));  // 4.5 × the median loss
  rows(1, 42, 50, kStart + 420 * kSecond);
  rows(1, 51, 56, kStart + 510 * kSecond, 10 * kSecond, 2.0, 50);  // six at half throughput
  auto detector = monitor();
  at(kStart + 570 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(monitor(nullptr, "replica-b")->check().ok());
  const auto nan = events(HealthEventType::kNanIterations);
  ASSERT_EQ(nan.size(), 1u);
  EXPECT_EQ(nan[0].occurrence, 31);
  const auto spike = events(HealthEventType::kLossSpike);
  ASSERT_EQ(spike.size(), 1u);
  EXPECT_EQ(spike[0].occurrence, 41);
  const auto drop = events(HealthEventType::kThroughputDrop);
  ASSERT_EQ(drop.size(), 1u);
  EXPECT_EQ(drop[0].occurrence, 51);

  // Back to full throughput: recovered, once.
  rows(1, 57, 62, kStart + 570 * kSecond);
  at(kStart + 630 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(detector->check().ok());
  const auto recovered = events(HealthEventType::kThroughputRecovered);
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].occurrence, 51);

  // Run 2 resumes from iteration 50's checkpoint: 51..62 are done again.
  startRun(2, "leaf-2", kStart + 700 * kSecond);
  rows(2, 51, 55, kStart + 760 * kSecond);
  at(kStart + 820 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(monitor(nullptr, "replica-b")->check().ok());
  const auto rewind = events(HealthEventType::kIterationRewind);
  ASSERT_EQ(rewind.size(), 1u);
  EXPECT_EQ(rewind[0].run_serial, 2);
  EXPECT_EQ(rewind[0].occurrence, 1) << "keyed by the previous run";
  EXPECT_NE(rewind[0].detail_json.find(R"("iteration":51)"), std::string::npos);
  EXPECT_NE(rewind[0].detail_json.find(R"("redone_iterations":12)"), std::string::npos)
      << rewind[0].detail_json;
  EXPECT_EQ(events().size(), 5u);
}

TEST_F(HealthMonitorTest, RowsAnotherReplicaWritesLateAreJudged) {
  // One replica has written every other batch of five when the first check runs.
  for (int64_t first = 1; first <= 60; first += 10) {
    rows(1, first, first + 4, kStart + first * kSecond, kSecond);
  }
  auto detector = monitor();
  at(kStart + 70 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  EXPECT_TRUE(events().empty());
  // The other replica's batches arrive: a NaN among them, below the newest iteration judged.
  for (int64_t first = 6; first <= 60; first += 10) {
    if (first != 26) rows(1, first, first + 4, kStart + first * kSecond, kSecond);
  }
  rows(1, 26, 26, kStart + 26 * kSecond);
  row(1, 27, kStart + 27 * kSecond, R"({"lm_loss":"NaN","tflops":100})");
  rows(1, 28, 30, kStart + 28 * kSecond, kSecond);
  ASSERT_TRUE(detector->check().ok());
  const auto nan = events(HealthEventType::kNanIterations);
  ASSERT_EQ(nan.size(), 1u);
  EXPECT_EQ(nan[0].occurrence, 27);
}

// Run 2's first rows are written by another replica after this one judged the run from later
// ones: the rewind is recorded once, from the run's real first row.
TEST_F(HealthMonitorTest, ARewindWhoseFirstRowsCameLateIsRecordedOnce) {
  rows(1, 1, 60, kStart + 10 * kSecond);
  startRun(2, "leaf-2", kStart + 700 * kSecond);
  rows(2, 45, 50, kStart + 800 * kSecond);
  auto detector = monitor();
  at(kStart + 900 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  auto rewind = events(HealthEventType::kIterationRewind);
  ASSERT_EQ(rewind.size(), 1u);
  EXPECT_NE(rewind[0].detail_json.find(R"("iteration":45)"), std::string::npos);

  // Iterations 41..44 arrive late, then 51..: no second rewind, by this replica or a fresh one.
  rows(2, 41, 44, kStart + 760 * kSecond);
  rows(2, 51, 53, kStart + 860 * kSecond);
  at(kStart + 930 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(monitor(nullptr, "replica-b")->check().ok());
  EXPECT_EQ(events(HealthEventType::kIterationRewind).size(), 1u);
}

// A young run's first rows written late, further below its newest than one check re-reads: the
// run is read again whole, and its rewind found from its real first row.
TEST_F(HealthMonitorTest, ARewindBelowTheRowsRememberedIsFound) {
  rows(1, 1, 60, kStart + 10 * kSecond);
  startRun(2, "leaf-2", kStart + 700 * kSecond);
  rows(2, 61, 140, kStart + 800 * kSecond, kSecond);
  auto detector = monitor();
  at(kStart + 950 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  EXPECT_TRUE(events(HealthEventType::kIterationRewind).empty()) << "61 follows 60";

  rows(2, 55, 60, kStart + 760 * kSecond, kSecond);
  at(kStart + 960 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  const auto rewind = events(HealthEventType::kIterationRewind);
  ASSERT_EQ(rewind.size(), 1u);
  EXPECT_NE(rewind[0].detail_json.find(R"("iteration":55)"), std::string::npos);
  EXPECT_NE(rewind[0].detail_json.find(R"("redone_iterations":6)"), std::string::npos);
}

// Another replica's batch with a NaN stretch's first rows is written after this replica recorded
// the stretch from a later row: the stretch stays one event.
TEST_F(HealthMonitorTest, AStretchWhoseFirstRowsCameLateIsRecordedOnce) {
  rows(1, 1, 29, kStart + 10 * kSecond);
  for (int64_t i = 33; i <= 40; ++i) {
    row(1, i, kStart + 10 * i * kSecond, R"({"lm_loss":"NaN","tflops":100})");
  }
  auto detector = monitor();
  at(kStart + 410 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  auto nan = events(HealthEventType::kNanIterations);
  ASSERT_EQ(nan.size(), 1u);
  EXPECT_EQ(nan[0].occurrence, 33);

  for (int64_t i = 30; i <= 32; ++i) {
    row(1, i, kStart + 10 * i * kSecond, R"({"lm_loss":"NaN","tflops":100})");
  }
  at(kStart + 420 * kSecond);
  ASSERT_TRUE(detector->check().ok());
  ASSERT_TRUE(monitor(nullptr, "replica-b")->check().ok());
  EXPECT_EQ(events(HealthEventType::kNanIterations).size(), 1u);
}

// The decoded series of what a sink was given, by name and then by their labels but __name__.
std::map<std::string, std::map<std::string, double>> seriesOf(testing::RecordingSink& sink) {
  ::prompb::WriteRequest request;
  EXPECT_TRUE(request.ParseFromString(sink.bytes()));
  std::map<std::string, std::map<std::string, double>> series;
  for (const auto& timeseries : request.timeseries()) {
    std::string name, labels;
    for (const auto& label : timeseries.labels()) {
      if (label.name() == "__name__") {
        name = label.value();
      } else {
        labels += common::concat(labels.empty() ? "" : ",", label.name(), "=", label.value());
      }
    }
    EXPECT_EQ(timeseries.samples_size(), 1);
    if (timeseries.samples_size() > 0) series[name][labels] = timeseries.samples(0).value();
  }
  return series;
}

TEST_F(HealthMonitorTest, TheLeaseHolderSendsTheAlertingAndGoodputSeries) {
  rows(1, 1, 20, kStart + 10 * kSecond);
  testing::RecordingSink sink_a(1), sink_b(1);
  auto replica_a = monitor(&sink_a, "replica-a");
  auto replica_b = monitor(&sink_b, "replica-b");
  at(kStart + 200 * kSecond + 6 * kMinute);
  ASSERT_TRUE(replica_a->check().ok());
  ASSERT_TRUE(replica_b->check().ok());
  EXPECT_EQ(sink_b.samples(), 0u) << "replica-a holds the lease";

  const auto series = seriesOf(sink_a);
  const std::string run = "namespace=team,run=1,workload_name=job,workload_uid=w-job";
  EXPECT_EQ(series.at("workload_training_stalled").at(run), 1);
  EXPECT_EQ(series.at("workload_training_seconds_since_progress").at(run), 360);
  EXPECT_EQ(series.at("workload_training_state")
                .at("namespace=team,run=1,state=stalled,workload_name=job,workload_uid=w-job"),
            1);
  EXPECT_EQ(series.at("workload_training_state")
                .at("namespace=team,run=1,state=running,workload_name=job,workload_uid=w-job"),
            0);
  EXPECT_EQ(series.at("workload_training_event")
                .at("namespace=team,run=1,type=TrainingStalled,workload_name=job,"
                    "workload_uid=w-job"),
            1);
  const std::string workload = "namespace=team,workload_name=job,workload_uid=w-job";
  // 20 iterations of 10 s in a wall time of 200 s + the 6 minutes without progress.
  EXPECT_DOUBLE_EQ(series.at("workload_training_goodput_ratio").at(workload), 200.0 / 560);
  EXPECT_DOUBLE_EQ(series.at("workload_training_lost_seconds")
                       .at("namespace=team,reason=stalls,workload_name=job,workload_uid=w-job"),
                   360);

  // replica-a goes away: once its lease has expired, replica-b sends.
  at(kStart + 200 * kSecond + 6 * kMinute + 91 * kSecond);
  ASSERT_TRUE(replica_b->check().ok());
  EXPECT_GT(sink_b.samples(), 0u);
}

// A save that ended after the last iteration is progress for the series as for the stall rule.
TEST_F(HealthMonitorTest, SecondsSinceProgressCountFromASaveAfterTheLastIteration) {
  rows(1, 1, 20, kStart + 10 * kSecond);  // the last at 200 s
  const storage::CheckpointLine saved = save(20, kStart + 260 * kSecond, 50'000);
  ASSERT_TRUE(storage::completeCheckpoints(*database_, std::span(&saved, 1)).ok());
  testing::RecordingSink sink(1);
  auto detector = monitor(&sink);
  at(kStart + 260 * kSecond + 2 * kMinute);
  ASSERT_TRUE(detector->check().ok());
  const auto series = seriesOf(sink);
  const std::string run = "namespace=team,run=1,workload_name=job,workload_uid=w-job";
  EXPECT_EQ(series.at("workload_training_seconds_since_progress").at(run), 120);
  EXPECT_EQ(series.at("workload_training_stalled").at(run), 0);
}

TEST_F(HealthMonitorTest, GoodputOfTheWorkedExample) {
  // docs/TRAINING.md's example (see health_rules_test): two runs, a save, a rewind.
  rows(1, 1, 10, kStart + 70 * kSecond);
  rows(1, 11, 15, kStart + 190 * kSecond);
  const storage::CheckpointLine saved = save(10, kStart + 180 * kSecond, 20'000);
  ASSERT_TRUE(storage::completeCheckpoints(*database_, std::span(&saved, 1)).ok());
  startRun(2, "leaf-2", kStart + 300 * kSecond);
  rows(2, 11, 20, kStart + 350 * kSecond);
  endRun(2, "leaf-2", kStart + 450 * kSecond);
  auto goodput = workloadGoodput(*database_, "w-job", kStart + 1000 * kSecond);
  ASSERT_TRUE(goodput.ok()) << goodput.status();
  ASSERT_TRUE(goodput->has_value());
  EXPECT_DOUBLE_EQ((*goodput)->wall_seconds, 450);
  EXPECT_DOUBLE_EQ((*goodput)->productive_seconds, 200);
  EXPECT_DOUBLE_EQ((*goodput)->redone_seconds, 50);
  EXPECT_DOUBLE_EQ((*goodput)->checkpoints_seconds, 20);
  EXPECT_DOUBLE_EQ((*goodput)->restarts_seconds, 110);
  EXPECT_DOUBLE_EQ((*goodput)->other_seconds, 70);
  auto none = workloadGoodput(*database_, "w-other", kStart);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace tp::training
