#include "training/health_rules.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "rapidjson/document.h"

namespace tp::training {
namespace {

using std::chrono::minutes;
using storage::HealthEvent;
using storage::HealthEventType;
using storage::RunState;

constexpr int64_t kSecond = 1'000'000;  // µs
constexpr int64_t kMinute = 60 * kSecond;
const storage::RunKey kRun{"job", 1};

struct RowSpec {
  int64_t iteration = 0;
  int64_t time_us = 0;
  std::optional<double> loss = 2.0;
  std::optional<double> tflops = 100;
  double nan_iterations = 0;
  double skipped_iterations = 0;
};

RowFigures row(const RowSpec& spec) {
  return {.iteration = spec.iteration,
          .time_us = spec.time_us,
          .pod_uid = "pod-1",
          .loss = spec.loss,
          .tflops = spec.tflops,
          .step_ms = 10'000,
          .nan_iterations = spec.nan_iterations,
          .skipped_iterations = spec.skipped_iterations};
}

// Iterations 1..count, one every `interval_us`, the first at `interval_us`.
std::vector<RowFigures> steadyRows(int64_t count, int64_t interval_us) {
  std::vector<RowFigures> rows;
  for (int64_t i = 1; i <= count; ++i)
    rows.push_back(row({.iteration = i, .time_us = i * interval_us}));
  return rows;
}

config::TrainingStallConfig stallConfig() { return {}; }  // factor 10, minimum 5 min, grace 30 min

storage::CheckpointActivity savingSince(int64_t start_us) {
  return {.in_progress_since_us = start_us};
}

storage::HealthRun runningRun() {
  return {.key = kRun, .nearest_workload_uid = "leaf-1", .started_us = 0};
}

double detailNumber(const HealthEvent& event, const char* key) {
  rapidjson::Document document;
  document.Parse(event.detail_json.c_str());
  EXPECT_TRUE(document.IsObject()) << event.detail_json;
  EXPECT_TRUE(document.HasMember(key)) << key << " in " << event.detail_json;
  if (!document.IsObject() || !document.HasMember(key)) return std::nan("");
  if (document[key].IsString()) {
    return std::string(document[key].GetString()) == "NaN" ? std::nan("") : 0;
  }
  return document[key].GetDouble();
}

std::vector<HealthEvent> ofType(const std::vector<HealthEvent>& events, HealthEventType type) {
  std::vector<HealthEvent> kept;
  for (const HealthEvent& event : events) {
    if (event.type == type) kept.push_back(event);
  }
  return kept;
}

// --- stalls -----------------------------------------------------------------------------------

TEST(FindStall, StallsAfterTheMinimumWhenTenIntervalsAreShorter) {
  const auto rows = steadyRows(20, 10 * kSecond);  // last at 200 s; 10 × 10 s < 5 min
  const int64_t last = rows.back().time_us;
  EXPECT_FALSE(findStall(stallConfig(), rows, storage::CheckpointActivity{}, last + 5 * kMinute));
  const auto verdict =
      findStall(stallConfig(), rows, storage::CheckpointActivity{}, last + 5 * kMinute + 1);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->last_iteration, 20);
  EXPECT_EQ(verdict->last_progress_us, last);
  EXPECT_EQ(verdict->median_interval_us, 10 * kSecond);
  EXPECT_EQ(verdict->threshold_us, 5 * kMinute);
  EXPECT_EQ(verdict->stalled_at_us, last + 5 * kMinute);
  EXPECT_FALSE(verdict->checkpoint_in_progress);
}

TEST(FindStall, ASlowJobDoesNotStallAtMinuteEleven) {
  const auto rows = steadyRows(6, 10 * kMinute);  // a step of 10 min
  const int64_t last = rows.back().time_us;
  EXPECT_FALSE(findStall(stallConfig(), rows, storage::CheckpointActivity{}, last + 11 * kMinute));
  EXPECT_FALSE(findStall(stallConfig(), rows, storage::CheckpointActivity{}, last + 100 * kMinute));
  const auto verdict =
      findStall(stallConfig(), rows, storage::CheckpointActivity{}, last + 101 * kMinute);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->threshold_us, 100 * kMinute);
}

TEST(FindStall, NoStallDuringALongCheckpointSave) {
  const auto rows = steadyRows(20, 10 * kSecond);
  const int64_t last = rows.back().time_us;
  const int64_t save_start = last + 5 * kSecond;
  // 20 minutes into the save: past the 5-minute threshold, within the 30-minute grace.
  EXPECT_FALSE(findStall(stallConfig(), rows, savingSince(save_start), save_start + 20 * kMinute));
  EXPECT_FALSE(findStall(stallConfig(), rows, savingSince(save_start), save_start + 30 * kMinute));
}

TEST(FindStall, StallsWhenTheCheckpointGraceRunsOut) {
  const auto rows = steadyRows(20, 10 * kSecond);
  const int64_t save_start = rows.back().time_us + 5 * kSecond;
  const auto verdict =
      findStall(stallConfig(), rows, savingSince(save_start), save_start + 30 * kMinute + 1);
  ASSERT_TRUE(verdict);
  EXPECT_TRUE(verdict->checkpoint_in_progress);
  EXPECT_EQ(verdict->stalled_at_us, save_start + 30 * kMinute);
}

TEST(FindStall, ACheckpointBeforeTheLastIterationHoldsNothingOff) {
  const auto rows = steadyRows(20, 10 * kSecond);
  const int64_t stale_save = rows.back().time_us - kMinute;  // never ended, long ago
  const auto verdict =
      findStall(stallConfig(), rows, savingSince(stale_save), rows.back().time_us + 6 * kMinute);
  ASSERT_TRUE(verdict);
  EXPECT_FALSE(verdict->checkpoint_in_progress);
}

TEST(FindStall, ACheckpointThatEndedAfterTheLastIterationIsProgress) {
  const auto rows = steadyRows(20, 10 * kSecond);
  const int64_t last = rows.back().time_us;
  // A 20-minute save after the last iteration, ended a minute ago.
  const storage::CheckpointActivity saved{.last_end_us = last + 20 * kMinute};
  EXPECT_FALSE(findStall(stallConfig(), rows, saved, last + 21 * kMinute));
  const auto verdict = findStall(stallConfig(), rows, saved, last + 25 * kMinute + 1);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->last_progress_us, last + 20 * kMinute);
  EXPECT_EQ(verdict->stalled_at_us, last + 25 * kMinute);
  // Another save in progress since after the last iteration holds it off, for the grace.
  const storage::CheckpointActivity saving{.in_progress_since_us = last + 5 * kSecond,
                                           .last_end_us = last + kSecond};
  EXPECT_FALSE(findStall(stallConfig(), rows, saving, last + 29 * kMinute));
  EXPECT_TRUE(findStall(stallConfig(), rows, saving, last + 31 * kMinute));
}

TEST(FindStall, NotJudgedWithoutAnInterval) {
  EXPECT_FALSE(findStall(stallConfig(), {}, storage::CheckpointActivity{}, 1'000 * kMinute));
  const auto one = steadyRows(1, kSecond);
  EXPECT_FALSE(findStall(stallConfig(), one, storage::CheckpointActivity{}, 1'000 * kMinute));
}

TEST(FindStall, TheFactorAndTheMinimumAreSettings) {
  config::TrainingStallConfig config{.factor = 3, .minimum = std::chrono::seconds(2)};
  const auto rows = steadyRows(10, kSecond);
  const int64_t last = rows.back().time_us;
  EXPECT_FALSE(findStall(config, rows, storage::CheckpointActivity{}, last + 3 * kSecond));
  ASSERT_TRUE(findStall(config, rows, storage::CheckpointActivity{}, last + 3 * kSecond + 1));
}

TEST(StallEvents, OneStallThenItsResumption) {
  auto rows = steadyRows(20, 10 * kSecond);
  const int64_t now = rows.back().time_us + 6 * kMinute;
  const auto verdict = findStall(stallConfig(), rows, storage::CheckpointActivity{}, now);
  ASSERT_TRUE(verdict);
  std::vector<HealthEvent> events = stallEvents(runningRun(), verdict, rows, {}, now);
  ASSERT_EQ(events.size(), 1u);
  const HealthEvent stalled = events[0];
  EXPECT_EQ(stalled.type, HealthEventType::kTrainingStalled);
  EXPECT_EQ(stalled.occurrence, 20);
  EXPECT_EQ(stalled.time_us, rows.back().time_us + 5 * kMinute);
  EXPECT_EQ(detailNumber(stalled, "iteration"), 20);
  EXPECT_EQ(detailNumber(stalled, "waited_seconds"), 360);
  EXPECT_EQ(detailNumber(stalled, "threshold_seconds"), 300);

  // Recorded: the next check finds the same stall and records nothing new.
  const std::vector<HealthEvent> recorded = {stalled};
  EXPECT_TRUE(stallEvents(runningRun(), verdict, rows, recorded, now + kMinute).empty());
  EXPECT_EQ(stateOf(runningRun(), recorded), RunState::kStalled);
  // Iterations come back.
  rows.push_back(row({.iteration = 21, .time_us = now + 2 * kMinute}));
  rows.push_back(row({.iteration = 22, .time_us = now + 2 * kMinute + 10 * kSecond}));
  const auto no_longer =
      findStall(stallConfig(), rows, storage::CheckpointActivity{}, now + 3 * kMinute);
  EXPECT_FALSE(no_longer);
  events = stallEvents(runningRun(), no_longer, rows, recorded, now + 3 * kMinute);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, HealthEventType::kTrainingResumed);
  EXPECT_EQ(events[0].occurrence, 20) << "the stall it ends";
  EXPECT_EQ(events[0].time_us, now + 2 * kMinute) << "the first iteration after it";
  EXPECT_EQ(detailNumber(events[0], "iteration"), 21);
  EXPECT_EQ(detailNumber(events[0], "stalled_seconds"), 480);

  const std::vector<HealthEvent> both = {stalled, events[0]};
  EXPECT_EQ(stateOf(runningRun(), both), RunState::kRunning);
  EXPECT_TRUE(stallEvents(runningRun(), no_longer, rows, both, now + 3 * kMinute).empty());
}

TEST(StateOf, EndedSupersededAndGoneComeFirst) {
  storage::HealthRun run = runningRun();
  const std::vector<HealthEvent> stalled = {{.workload_uid = "job",
                                             .run_serial = 1,
                                             .type = HealthEventType::kTrainingStalled,
                                             .occurrence = 20,
                                             .time_us = 50}};
  EXPECT_EQ(stateOf(run, {}), RunState::kRunning);
  run.gone_us = 70;
  EXPECT_EQ(stateOf(run, stalled), RunState::kGone);
  run.superseded_us = 80;
  EXPECT_EQ(stateOf(run, stalled), RunState::kSuperseded);
  run.ended_us = 90;
  EXPECT_EQ(stateOf(run, stalled), RunState::kEnded);
  // Another run's stall is not this one's.
  const std::vector<HealthEvent> other = {{.workload_uid = "job",
                                           .run_serial = 2,
                                           .type = HealthEventType::kTrainingStalled,
                                           .occurrence = 3}};
  EXPECT_EQ(stateOf(runningRun(), other), RunState::kRunning);
}

// --- anomalies --------------------------------------------------------------------------------

config::TrainingAnomalyConfig anomalyConfig() { return {}; }  // 3×, window 20, 30 %, 5 in a row

std::vector<HealthEvent> anomalies(const std::vector<RowFigures>& rows, size_t first = 0,
                                   const std::vector<HealthEvent>& recorded = {}) {
  return findAnomalies(anomalyConfig(), kRun, rows, first, true, recorded);
}

TEST(FindAnomalies, SteadyRowsHaveNone) {
  EXPECT_TRUE(anomalies(steadyRows(200, kSecond)).empty());
}

TEST(FindAnomalies, ANonFiniteLossStretchIsOneNanIterationsEvent) {
  auto rows = steadyRows(40, kSecond);
  rows[29].loss = std::numeric_limits<double>::quiet_NaN();  // iteration 30
  rows[30].loss = std::numeric_limits<double>::quiet_NaN();
  rows[31].loss = std::numeric_limits<double>::infinity();
  const auto events = anomalies(rows);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, HealthEventType::kNanIterations);
  EXPECT_EQ(events[0].occurrence, 30);
  EXPECT_EQ(events[0].time_us, 30 * kSecond);
  EXPECT_EQ(detailNumber(events[0], "iteration"), 30);
  EXPECT_TRUE(std::isnan(detailNumber(events[0], "value")));
  EXPECT_EQ(detailNumber(events[0], "baseline"), 2.0);
  // Judged again from a later row on, nothing new.
  EXPECT_TRUE(anomalies(rows, 31).empty());
}

TEST(FindAnomalies, NanAndSkippedCountsRising) {
  auto rows = steadyRows(40, kSecond);
  rows[9].nan_iterations = 2;       // iteration 10
  rows[24].skipped_iterations = 1;  // iteration 25
  rows[25].skipped_iterations = 3;
  rows[35].skipped_iterations = 1;  // a second stretch
  const auto events = anomalies(rows);
  const auto nan = ofType(events, HealthEventType::kNanIterations);
  ASSERT_EQ(nan.size(), 1u);
  EXPECT_EQ(nan[0].occurrence, 10);
  EXPECT_EQ(detailNumber(nan[0], "value"), 2);
  const auto skipped = ofType(events, HealthEventType::kSkippedIterations);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].occurrence, 25);
  EXPECT_EQ(skipped[1].occurrence, 36);
}

TEST(FindAnomalies, LossSpikeAboveThreeTimesTheWindowMedian) {
  auto rows = steadyRows(60, kSecond);
  rows[39].loss = 6.5;  // iteration 40: 3.25 × 2.0
  rows[40].loss = 7;    // the same spike goes on
  rows[49].loss = 5.9;  // below 3 × 2.0
  const auto events = anomalies(rows);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, HealthEventType::kLossSpike);
  EXPECT_EQ(events[0].occurrence, 40);
  EXPECT_EQ(detailNumber(events[0], "value"), 6.5);
  EXPECT_EQ(detailNumber(events[0], "baseline"), 2.0);
}

TEST(FindAnomalies, NoLossSpikeBeforeAWindowOfIterations) {
  auto rows = steadyRows(30, kSecond);
  rows[0].loss = 11;
  rows[1].loss = 3;
  rows[5].loss = 12;  // early: the loss falls fast at a run's start
  EXPECT_TRUE(ofType(anomalies(rows), HealthEventType::kLossSpike).empty());
}

TEST(FindAnomalies, ThroughputDropAfterFiveLowIterationsThenRecovery) {
  auto rows = steadyRows(80, kSecond);
  for (size_t i = 39; i < 43; ++i) rows[i].tflops = 60;  // four in a row: not yet
  auto events = anomalies(rows);
  EXPECT_TRUE(ofType(events, HealthEventType::kThroughputDrop).empty());

  for (size_t i = 39; i < 50; ++i) rows[i].tflops = 60;  // iterations 40..50
  events = anomalies(rows);
  const auto drops = ofType(events, HealthEventType::kThroughputDrop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].occurrence, 40);
  EXPECT_EQ(drops[0].time_us, 40 * kSecond);
  EXPECT_EQ(detailNumber(drops[0], "value"), 60);
  EXPECT_EQ(detailNumber(drops[0], "baseline"), 100);
  // Iterations 51.. are back at 100: recovered at the fifth, keyed by the drop, in the same scan.
  const auto recovered = ofType(events, HealthEventType::kThroughputRecovered);
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].occurrence, 40);
  EXPECT_EQ(detailNumber(recovered[0], "iteration"), 51);
  EXPECT_EQ(detailNumber(recovered[0], "baseline"), 100);

  // Both recorded: judged again, from the start or from any row, nothing new.
  const std::vector<HealthEvent> recorded = {drops[0], recovered[0]};
  EXPECT_TRUE(anomalies(rows, 0, recorded).empty());
  EXPECT_TRUE(anomalies(rows, 45, recorded).empty());
  EXPECT_TRUE(anomalies(rows, 60, recorded).empty());
  // Only the drop recorded: its recovery is found from a row inside it on.
  const auto only_recovery = anomalies(rows, 45, {drops[0]});
  ASSERT_EQ(only_recovery.size(), 1u);
  EXPECT_EQ(only_recovery[0].type, HealthEventType::kThroughputRecovered);
}

TEST(FindAnomalies, ASecondDropAfterARecordedRecoveryIsFound) {
  auto rows = steadyRows(160, kSecond);
  for (size_t i = 39; i < 50; ++i) rows[i].tflops = 60;   // drop 1: iterations 40..50
  for (size_t i = 99; i < 110; ++i) rows[i].tflops = 50;  // drop 2: iterations 100..110
  const auto events = anomalies(rows);
  const auto drops = ofType(events, HealthEventType::kThroughputDrop);
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[0].occurrence, 40);
  EXPECT_EQ(drops[1].occurrence, 100);
  const auto recovered = ofType(events, HealthEventType::kThroughputRecovered);
  ASSERT_EQ(recovered.size(), 2u);
  EXPECT_EQ(recovered[1].occurrence, 100);

  // A replica starting with the first drop and its recovery recorded finds the second drop, judging
  // from the start or from a row after the recovery (the first drop is closed there).
  for (size_t first : {0, 100}) {
    const auto later = anomalies(rows, first, {drops[0], recovered[0]});
    ASSERT_EQ(ofType(later, HealthEventType::kThroughputDrop).size(), 1u) << first;
    EXPECT_EQ(ofType(later, HealthEventType::kThroughputDrop)[0].occurrence, 100);
    EXPECT_EQ(ofType(later, HealthEventType::kThroughputRecovered).size(), 1u);
  }
}

// Replicas' writers commit rows out of order: a replica may judge a stretch before its first rows
// are written, and record it from a later row. Once those rows are there, it is the same one.
TEST(FindAnomalies, AStretchRecordedBeforeItsFirstRowsWereWrittenIsNotFoundAgain) {
  auto rows = steadyRows(80, kSecond);
  for (size_t i = 29; i < 40; ++i) rows[i].loss = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = 59; i < 70; ++i) rows[i].tflops = 40;
  for (size_t i = 49; i < 53; ++i) rows[i].skipped_iterations = 1;
  const auto events = anomalies(rows);
  ASSERT_EQ(ofType(events, HealthEventType::kNanIterations).size(), 1u);
  ASSERT_EQ(ofType(events, HealthEventType::kThroughputDrop).size(), 1u);
  ASSERT_EQ(ofType(events, HealthEventType::kSkippedIterations).size(), 1u);

  // What a replica that first saw iterations 33.., 53.. and 63.. recorded.
  std::vector<HealthEvent> recorded;
  for (HealthEvent event : events) {
    if (event.type == HealthEventType::kThroughputRecovered) continue;
    event.occurrence += 3;
    recorded.push_back(event);
  }
  const auto again = anomalies(rows, 0, recorded);
  EXPECT_TRUE(ofType(again, HealthEventType::kNanIterations).empty());
  EXPECT_TRUE(ofType(again, HealthEventType::kSkippedIterations).empty());
  EXPECT_TRUE(ofType(again, HealthEventType::kThroughputDrop).empty());
  // The recovery of the drop as recorded, keyed by its occurrence.
  const auto recovered = ofType(again, HealthEventType::kThroughputRecovered);
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].occurrence, 63);

  // A loss spike the same way.
  auto spiky = steadyRows(60, kSecond);
  for (size_t i = 39; i < 44; ++i) spiky[i].loss = 9;  // iterations 40..44
  const auto spikes = ofType(anomalies(spiky), HealthEventType::kLossSpike);
  ASSERT_EQ(spikes.size(), 1u);
  HealthEvent late = spikes[0];
  late.occurrence = 42;
  EXPECT_TRUE(ofType(anomalies(spiky, 0, {late}), HealthEventType::kLossSpike).empty());
  // Another stretch of the same type is another occurrence.
  spiky[54].loss = 9;
  const auto second = ofType(anomalies(spiky, 0, {late}), HealthEventType::kLossSpike);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].occurrence, 55);
}

TEST(FindAnomalies, ALongDropKeepsItsOwnBaseline) {
  auto rows = steadyRows(400, kSecond);
  for (size_t i = 99; i < 400; ++i) rows[i].tflops = 60;  // 300 low rows: the recent median is 60
  const auto drops = ofType(anomalies(rows), HealthEventType::kThroughputDrop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_TRUE(anomalies(rows, 300, drops).empty()) << "60 is still below 70 % of 100";
}

TEST(FindAnomalies, TokensPerGpuWithoutTflops) {
  auto rows = steadyRows(60, kSecond);
  for (RowFigures& figures : rows) {
    figures.tflops.reset();
    figures.tokens_per_gpu = 3000;
  }
  for (size_t i = 29; i < 34; ++i) rows[i].tokens_per_gpu = 1000;
  const auto drops = ofType(anomalies(rows), HealthEventType::kThroughputDrop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].occurrence, 30);
  EXPECT_NE(drops[0].detail_json.find(R"("field":"tokens_per_gpu")"), std::string::npos);
}

TEST(FindAnomalies, RowsWithoutTheirWindowAreNotJudged) {
  auto rows = steadyRows(30, kSecond);
  rows[0].loss = std::numeric_limits<double>::quiet_NaN();
  // The newest rows of a longer run: whether the row before the first was NaN too is not known.
  EXPECT_TRUE(findAnomalies(anomalyConfig(), kRun, rows, 0, false, {}).empty());
  EXPECT_EQ(findAnomalies(anomalyConfig(), kRun, rows, 0, true, {}).size(), 1u);
  // A spike needs its window: at the fifth of the newest rows it has not.
  rows[0].loss = 2;
  rows[4].loss = 100;
  EXPECT_TRUE(findAnomalies(anomalyConfig(), kRun, rows, 0, false, {}).empty());
}

TEST(FindRewind, ARunResumingBelowThePreviousRunsLastIteration) {
  const RowFigures first = row({.iteration = 11, .time_us = 500 * kSecond});
  EXPECT_FALSE(findRewind({"job", 2}, first, 1, 10));
  const auto rewind = findRewind({"job", 2}, first, 1, 15);
  ASSERT_TRUE(rewind);
  EXPECT_EQ(rewind->type, HealthEventType::kIterationRewind);
  EXPECT_EQ(rewind->run_serial, 2);
  EXPECT_EQ(rewind->occurrence, 1) << "one per run: keyed by the previous run";
  EXPECT_EQ(detailNumber(*rewind, "iteration"), 11);
  EXPECT_EQ(rewind->time_us, 500 * kSecond);
  EXPECT_EQ(detailNumber(*rewind, "previous_last_iteration"), 15);
  EXPECT_EQ(detailNumber(*rewind, "redone_iterations"), 5);
}

// --- goodput ----------------------------------------------------------------------------------

storage::RunPhase summary(int serial, int64_t started_s, RunState state, int64_t since_s) {
  return {.serial = serial,
          .started_us = started_s * kSecond,
          .state = state,
          .since_us = since_s * kSecond};
}

// docs/TRAINING.md's worked example: 10 s steps; run 1 starts at 0, logs iterations 1..10 at
// 70..160 s, saves for 20 s (ends at 180 s), logs 11..15 at 190..230 s and dies; run 2 starts
// at 300 s from the save at 10, logs 11..20 at 350..440 s and ends at 450 s.
TEST(Goodput, TheWorkedExample) {
  GoodputCalculator calculator;
  for (int64_t i = 1; i <= 10; ++i) calculator.add(1, i, (60 + 10 * i) * kSecond, 10'000, {});
  for (int64_t i = 11; i <= 15; ++i) calculator.add(1, i, (80 + 10 * i) * kSecond, 10'000, {});
  for (int64_t i = 11; i <= 20; ++i) calculator.add(2, i, (240 + 10 * i) * kSecond, 10'000, {});
  const std::vector<storage::RunPhase> runs = {summary(1, 0, RunState::kSuperseded, 300),
                                               summary(2, 300, RunState::kEnded, 450)};
  const std::vector<storage::CompletedSave> saves = {
      {.serial = 1, .iteration = 10, .end_us = 180 * kSecond, .duration_ms = 20'000}};
  const Goodput goodput = calculator.finish(runs, saves, {}, 1'000 * kSecond);
  EXPECT_EQ(goodput.start_us, 0);
  EXPECT_EQ(goodput.end_us, 450 * kSecond);
  EXPECT_DOUBLE_EQ(goodput.wall_seconds, 450);
  EXPECT_DOUBLE_EQ(goodput.productive_seconds, 200);  // iterations 1..20 once
  EXPECT_DOUBLE_EQ(goodput.redone_seconds, 50);       // 11..15 again
  EXPECT_DOUBLE_EQ(goodput.checkpoints_seconds, 20);
  EXPECT_DOUBLE_EQ(goodput.restarts_seconds, 110);  // 230 s → 340 s
  EXPECT_DOUBLE_EQ(goodput.stalls_seconds, 0);
  EXPECT_DOUBLE_EQ(goodput.other_seconds, 70);  // run 1's start-up, the end after 440 s
  EXPECT_DOUBLE_EQ(goodput.ratio, 200.0 / 450);
  EXPECT_EQ(goodput.counted_iterations, 20);
  EXPECT_EQ(goodput.redone_iterations, 5);
  EXPECT_EQ(goodput.runs, 2);
}

// A run that saves after its last iteration and dies: the save is checkpoint time, and the restart
// begins when it ended.
TEST(Goodput, ASaveAfterARunsLastRowIsNotARestart) {
  GoodputCalculator calculator;
  for (int64_t i = 1; i <= 10; ++i) calculator.add(1, i, (60 + 10 * i) * kSecond, 10'000, {});
  for (int64_t i = 11; i <= 20; ++i) calculator.add(2, i, (240 + 10 * i) * kSecond, 10'000, {});
  const std::vector<storage::RunPhase> runs = {summary(1, 0, RunState::kSuperseded, 300),
                                               summary(2, 300, RunState::kEnded, 450)};
  // Iteration 10 at 160 s, then a save of 20 s ending at 180 s.
  const std::vector<storage::CompletedSave> saves = {
      {.serial = 1, .iteration = 10, .end_us = 180 * kSecond, .duration_ms = 20'000}};
  const Goodput goodput = calculator.finish(runs, saves, {}, 1'000 * kSecond);
  EXPECT_DOUBLE_EQ(goodput.wall_seconds, 450);
  EXPECT_DOUBLE_EQ(goodput.productive_seconds, 200);
  EXPECT_DOUBLE_EQ(goodput.checkpoints_seconds, 20);
  EXPECT_DOUBLE_EQ(goodput.restarts_seconds, 160);  // 180 s → 340 s, not from 160 s
  EXPECT_DOUBLE_EQ(goodput.other_seconds, 70);      // run 1's start-up, the end after 440 s
  EXPECT_DOUBLE_EQ(goodput.wall_seconds, goodput.productive_seconds + goodput.redone_seconds +
                                             goodput.stalls_seconds + goodput.checkpoints_seconds +
                                             goodput.restarts_seconds + goodput.other_seconds);
}

TEST(Goodput, AResumedStallIsLostTimeNotStepTime) {
  const std::vector<HealthEvent> recorded = {
      {.workload_uid = "job",
       .run_serial = 1,
       .type = HealthEventType::kTrainingStalled,
       .occurrence = 5,
       .time_us = 350 * kSecond,
       .detail_json = R"({"last_progress_us":50000000,"median_interval_seconds":10})"},
      {.workload_uid = "job",
       .run_serial = 1,
       .type = HealthEventType::kTrainingResumed,
       .occurrence = 5,
       .time_us = 350 * kSecond}};
  GoodputCalculator calculator;
  for (int64_t i = 1; i <= 5; ++i) calculator.add(1, i, 10 * i * kSecond, 10'000, recorded);
  // Iteration 6 ends the stall; its step time was taken across the hang.
  calculator.add(1, 6, 350 * kSecond, 300'000, recorded);
  calculator.add(1, 7, 360 * kSecond, 10'000, recorded);
  const std::vector<storage::RunPhase> runs = {summary(1, 0, RunState::kEnded, 360)};
  const Goodput goodput = calculator.finish(runs, {}, recorded, 1'000 * kSecond);
  EXPECT_DOUBLE_EQ(goodput.wall_seconds, 360);
  EXPECT_DOUBLE_EQ(goodput.productive_seconds, 70);
  EXPECT_DOUBLE_EQ(goodput.stalls_seconds, 290);
  EXPECT_DOUBLE_EQ(goodput.other_seconds, 0);
}

TEST(Goodput, AStallThatStillHoldsLastsUntilNow) {
  const std::vector<HealthEvent> recorded = {
      {.workload_uid = "job",
       .run_serial = 1,
       .type = HealthEventType::kTrainingStalled,
       .occurrence = 3,
       .time_us = 330 * kSecond,
       .detail_json = R"({"last_progress_us":30000000,"median_interval_seconds":10})"}};
  GoodputCalculator calculator;
  for (int64_t i = 1; i <= 3; ++i) calculator.add(1, i, 10 * i * kSecond, 10'000, recorded);
  const std::vector<storage::RunPhase> runs = {summary(1, 0, RunState::kStalled, 330)};
  const Goodput goodput = calculator.finish(runs, {}, recorded, 630 * kSecond);
  EXPECT_EQ(goodput.end_us, 630 * kSecond);
  EXPECT_DOUBLE_EQ(goodput.productive_seconds, 30);
  EXPECT_DOUBLE_EQ(goodput.stalls_seconds, 600);
  EXPECT_DOUBLE_EQ(goodput.ratio, 30.0 / 630);
}

TEST(Goodput, CopiesFoldOnIndependently) {
  GoodputCalculator settled;
  for (int64_t i = 1; i <= 5; ++i) settled.add(1, i, 10 * i * kSecond, 10'000, {});
  GoodputCalculator latest = settled;
  latest.add(1, 6, 60 * kSecond, 10'000, {});
  const std::vector<storage::RunPhase> runs = {summary(1, 0, RunState::kRunning, 0)};
  EXPECT_DOUBLE_EQ(settled.finish(runs, {}, {}, 0).productive_seconds, 50);
  EXPECT_DOUBLE_EQ(latest.finish(runs, {}, {}, 0).productive_seconds, 60);
}

TEST(RowReader, ReadsTheDocumentsNumbersAndNonFiniteStrings) {
  RowReader reader;
  const RowFigures figures = reader.read(
      {.iteration = 7,
       .time_us = 9,
       .pod_uid = "pod",
       .performance_json =
           R"({"lm_loss":"NaN","tflops":148.5,"elapsed_time_per_iteration_ms":4120,)"
           R"("nan_iterations_number":1,"skipped_iterations_number":2,"tokens_per_gpu":"+Inf"})"});
  EXPECT_EQ(figures.iteration, 7);
  EXPECT_EQ(figures.pod_uid, "pod");
  ASSERT_TRUE(figures.loss);
  EXPECT_TRUE(std::isnan(*figures.loss));
  EXPECT_EQ(figures.tflops, 148.5);
  EXPECT_EQ(figures.step_ms, 4120);
  EXPECT_EQ(figures.nan_iterations, 1);
  EXPECT_EQ(figures.skipped_iterations, 2);
  EXPECT_EQ(figures.tokens_per_gpu, std::numeric_limits<double>::infinity());
  const RowFigures garbage = reader.read({.iteration = 1, .performance_json = "{not json"});
  EXPECT_FALSE(garbage.loss);
  EXPECT_EQ(garbage.iteration, 1);
}

}  // namespace
}  // namespace tp::training
