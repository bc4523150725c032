// Training-health storage on SQLite: migration 5 on a database created before it, health events
// written insert-if-absent beside the StartTrain and EndTrain events, the runs as the detector
// and the runs API see them (ended, superseded, gone, stalled, running, and since when), the
// rows and checkpoints the detector reads, and leases.

#include "storage/training_health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "common/strings.h"
#include "storage/schema.h"
#include "storage/training_queries.h"
#include "storage/training_rows.h"
#include "support/cluster_rows.h"
#include "support/temp_dir.h"

namespace tp::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

constexpr int64_t kT0 = 1761223152'123456;  // 2025-10-23 12:39:12.123456 UTC
constexpr int64_t kSecond = 1'000'000;

HealthEvent healthEvent(HealthEventType type, int64_t occurrence, int64_t time_us,
                        const std::string& workload = "w-job", int serial = 1) {
  return {.workload_uid = workload,
          .run_serial = serial,
          .type = type,
          .occurrence = occurrence,
          .time_us = time_us,
          .pod_uid = "pod-0",
          .detail_json = common::concat(R"({"iteration":)", occurrence, "}")};
}

class HealthStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::DbConfig config;
    config.path = (dir_ / "lens.db").string();
    auto database = Database::create(config);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }

  void migrate() { ASSERT_TRUE(ensureSchema(*database_, nullptr).ok()); }

  // Run `serial` of `workload`, its leaf workload (nearest_workload_uid) "<workload>-run<serial>".
  void start(const std::string& workload, int serial, int64_t time_us) {
    const RunEvent event{workload, leaf(workload, serial), "pod-0", serial, time_us};
    ASSERT_TRUE(insertStartTrainEvents(*database_, std::span(&event, 1)).ok());
  }

  void end(const std::string& workload, int serial, int64_t time_us) {
    const RunEvent event{workload, leaf(workload, serial), "pod-0", serial, time_us};
    ASSERT_TRUE(insertEndTrainEvents(*database_, std::span(&event, 1)).ok());
  }

  static std::string leaf(const std::string& workload, int serial) {
    return common::concat(workload, "-run", serial);
  }

  std::vector<bool> insert(const std::vector<HealthEvent>& events) {
    auto inserted = insertHealthEvents(*database_, events);
    EXPECT_TRUE(inserted.ok()) << inserted.status();
    return inserted.value_or(std::vector<bool>{});
  }

  // A gpu_workload row of `status`, its end_at at `end_us` when given.
  void workload(const std::string& uid, const std::string& status,
                std::optional<int64_t> end_us = std::nullopt) {
    testing::insertWorkload(*database_, uid, uid, "", status);
    if (end_us) {
      testing::exec(*database_, common::concat("UPDATE gpu_workload SET end_at = '",
                                               formatTimestamp(Driver::kSqlite, *end_us),
                                               "' WHERE uid = '", uid, "'"));
    }
  }

  std::map<std::string, RunSummary> runsByKey(const RunQuery& query = {}) {
    auto page = listRuns(*database_, query);
    EXPECT_TRUE(page.ok()) << page.status();
    std::map<std::string, RunSummary> runs;
    if (!page.ok()) return runs;
    for (RunSummary& run : page->runs) {
      runs.emplace(common::concat(run.workload_uid, "/", run.serial), std::move(run));
    }
    return runs;
  }

  std::vector<std::string> keys(const std::vector<HealthRun>& runs) {
    std::vector<std::string> found;
    for (const HealthRun& run : runs) {
      found.push_back(common::concat(run.key.workload_uid, "/", run.key.serial));
    }
    return found;
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> database_;
};

TEST_F(HealthStorageTest, TheMigrationAddsItsColumnsToADatabaseThatRanTheEarlierOnes) {
  // workload_event as migration 1 made it, with a run, and migrations 1-4 recorded.
  testing::exec(*database_,
                "CREATE TABLE workload_event (id INTEGER PRIMARY KEY AUTOINCREMENT, workload_uid "
                "VARCHAR(256), type VARCHAR(256), run_serial INTEGER, created_at TIMESTAMP, "
                "pod_uid VARCHAR(256), nearest_workload_uid VARCHAR(256))");
  testing::exec(*database_,
                "INSERT INTO workload_event (workload_uid, type, run_serial, created_at, pod_uid, "
                "nearest_workload_uid) VALUES ('w-job', 'StartTrain', 1, '2025-10-23 "
                "12:39:12.123456', 'pod-0', 'w-job-leaf')");
  testing::exec(*database_,
                "CREATE TABLE tp_schema_migrations (version INTEGER PRIMARY KEY, name "
                "VARCHAR(128), applied_at VARCHAR(64))");
  for (int version = 1; version <= 4; ++version) {
    testing::exec(*database_, common::concat("INSERT INTO tp_schema_migrations VALUES (", version,
                                             ", 'earlier', '0')"));
  }
  std::vector<std::string> warnings;
  ASSERT_TRUE(ensureSchema(*database_, &warnings).ok());
  EXPECT_THAT(warnings, ElementsAre());
  EXPECT_EQ(testing::queryNumber(*database_,
                                 "SELECT count(*) FROM workload_event WHERE detail IS NULL AND "
                                 "occurrence IS NULL"),
            1)
      << "the run is kept, without detail or occurrence";
  EXPECT_EQ(testing::queryNumber(*database_,
                                 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                 "name IN ('uq_tp_workload_event_occurrence', "
                                 "'uq_tp_leases_name')"),
            2);
  EXPECT_EQ(testing::queryNumber(*database_,
                                 "SELECT count(*) FROM tp_schema_migrations WHERE version = 5"),
            1);
  EXPECT_THAT(insert({healthEvent(HealthEventType::kTrainingStalled, 100, kT0)}),
              ElementsAre(true));
  EXPECT_TRUE(*holdLease(*database_, "health", "replica-a", kT0, kSecond));
}

TEST_F(HealthStorageTest, EachEventIsInsertedOnceAndReportedByTheCallThatInsertedIt) {
  migrate();
  const HealthEvent stall = healthEvent(HealthEventType::kTrainingStalled, 100, kT0);
  const HealthEvent nan = healthEvent(HealthEventType::kNanIterations, 120, kT0 + kSecond);
  const HealthEvent spike = healthEvent(HealthEventType::kLossSpike, 120, kT0 + 2 * kSecond);
  EXPECT_THAT(insert({stall, nan}), ElementsAre(true, true));
  EXPECT_THAT(insert({nan, spike, spike}), ElementsAre(false, true, false))
      << "recorded before, and twice in one call";
  HealthEvent later_copy = stall;
  later_copy.time_us = kT0 + 60 * kSecond;
  later_copy.detail_json = R"({"iteration":100,"again":true})";
  EXPECT_THAT(insert({later_copy}), ElementsAre(false)) << "the key decides, not the values";
  HealthEvent other_run = stall;
  other_run.run_serial = 2;
  HealthEvent other_occurrence = stall;
  other_occurrence.occurrence = 200;
  other_occurrence.time_us = kT0 + 3 * kSecond;
  EXPECT_THAT(insert({other_run, other_occurrence}), ElementsAre(true, true));
  EXPECT_THAT(insert({}), ElementsAre());

  auto events = readHealthEvents(*database_, "w-job", 1);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 4u);
  const HealthEvent& first = (*events)[0];
  EXPECT_EQ(first.workload_uid, "w-job");
  EXPECT_EQ(first.run_serial, 1);
  EXPECT_EQ(first.type, HealthEventType::kTrainingStalled);
  EXPECT_EQ(first.occurrence, 100);
  EXPECT_EQ(first.time_us, kT0);
  EXPECT_EQ(first.pod_uid, "pod-0");
  EXPECT_EQ(first.detail_json, R"({"iteration":100})");
  EXPECT_EQ((*events)[1].type, HealthEventType::kNanIterations);
  EXPECT_EQ((*events)[2].type, HealthEventType::kLossSpike);
  EXPECT_EQ((*events)[3].occurrence, 200);
  events = readHealthEvents(*database_, "w-job");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 5u) << "all runs";
}

TEST_F(HealthStorageTest, HealthEventsAndRunEventsOfOneRunCoexist) {
  migrate();
  start("w-job", 1, kT0);
  EXPECT_THAT(insert({healthEvent(HealthEventType::kTrainingStalled, 100, kT0 + kSecond),
                      healthEvent(HealthEventType::kTrainingStalled, 300, kT0 + 2 * kSecond)}),
              ElementsAre(true, true))
      << "their nearest_workload_uid is NULL: the run key does not hold them";
  end("w-job", 1, kT0 + 3 * kSecond);
  EXPECT_EQ(testing::queryNumber(*database_, "SELECT count(*) FROM workload_event"), 4);
  auto runs = loadRuns(*database_, "w-job");
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u) << "health events are no runs";
  auto events = readHealthEvents(*database_, "w-job");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u) << "run events are no health events";
}

TEST_F(HealthStorageTest, HealthRunsAreTheOpenOnesAndThoseChangedSince) {
  migrate();
  start("w-ended", 1, kT0);
  end("w-ended", 1, kT0 + 100 * kSecond);
  start("w-next", 1, kT0);
  start("w-next", 2, kT0 + 200 * kSecond);
  start("w-next", 3, kT0 + 250 * kSecond);
  workload("w-gone", "Done", kT0 + 300 * kSecond);
  start("w-gone", 1, kT0);
  // The leaf workload's row decides over workload_uid's.
  workload("w-leaf-gone", "Running");
  workload("w-leaf-gone-run1", "Failed");
  start("w-leaf-gone", 1, kT0);
  workload("w-running", "Running");
  start("w-running", 1, kT0);

  auto runs = listHealthRuns(*database_, kT0 + 150 * kSecond, 100);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(keys(*runs),
              ElementsAre("w-gone/1", "w-next/1", "w-next/2", "w-next/3", "w-running/1"))
      << "w-ended/1 ended before the time asked; w-leaf-gone/1 went without a time: long ago";
  const std::map<std::string, HealthRun> by_key = [&] {
    std::map<std::string, HealthRun> found;
    for (const HealthRun& run : *runs) {
      found.emplace(common::concat(run.key.workload_uid, "/", run.key.serial), run);
    }
    return found;
  }();
  const HealthRun& gone = by_key.at("w-gone/1");
  EXPECT_EQ(gone.workload_name, "w-gone");
  EXPECT_EQ(gone.namespace_name, "team");
  EXPECT_EQ(gone.nearest_workload_uid, "w-gone-run1");
  EXPECT_EQ(gone.started_us, kT0);
  EXPECT_THAT(gone.gone_us, Optional(kT0 + 300 * kSecond));
  EXPECT_EQ(gone.ended_us, std::nullopt);
  const HealthRun& superseded = by_key.at("w-next/1");
  EXPECT_THAT(superseded.superseded_us, Optional(kT0 + 200 * kSecond)) << "the next run's start";
  EXPECT_EQ(by_key.at("w-next/3").superseded_us, std::nullopt);
  EXPECT_EQ(by_key.at("w-running/1").gone_us, std::nullopt);
  EXPECT_EQ(by_key.at("w-running/1").workload_name, "w-running");

  runs = listHealthRuns(*database_, kT0 + 201 * kSecond, 100);
  ASSERT_TRUE(runs.ok());
  EXPECT_THAT(keys(*runs), ElementsAre("w-gone/1", "w-next/2", "w-next/3", "w-running/1"));
  runs = listHealthRuns(*database_, 0, 100);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 7u);
  EXPECT_EQ(runs->at(2).key.workload_uid, "w-leaf-gone");
  EXPECT_THAT(runs->at(2).gone_us, Optional(0)) << "its leaf's row, which has no time set";
  const HealthRun& ended = runs->front();
  EXPECT_EQ(ended.key.workload_uid, "w-ended");
  EXPECT_THAT(ended.ended_us, Optional(kT0 + 100 * kSecond));
  EXPECT_EQ(ended.workload_name, "") << "no gpu_workload row";

  runs = listHealthRuns(*database_, kT0, 2);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 3u) << "one more than the limit: there are more";
}

TEST_F(HealthStorageTest, RunsHaveTheFirstStateThatHoldsAndItsStart) {
  migrate();
  start("w-ended", 1, kT0);
  end("w-ended", 1, kT0 + 100 * kSecond);
  start("w-ended", 2, kT0 + 200 * kSecond);  // ended wins over superseded
  insert({healthEvent(HealthEventType::kTrainingStalled, 10, kT0 + 50 * kSecond, "w-ended")});
  start("w-next", 1, kT0);
  start("w-next", 2, kT0 + 200 * kSecond);
  workload("w-gone", "Done", kT0 + 300 * kSecond);
  start("w-gone", 1, kT0);
  insert({healthEvent(HealthEventType::kTrainingStalled, 10, kT0 + 50 * kSecond, "w-gone")});
  workload("w-gone-untimed", "Failed");
  start("w-gone-untimed", 1, kT0 + 5 * kSecond);
  start("w-stalled", 1, kT0);
  insert({healthEvent(HealthEventType::kTrainingStalled, 10, kT0 + 50 * kSecond, "w-stalled"),
          healthEvent(HealthEventType::kTrainingResumed, 10, kT0 + 60 * kSecond, "w-stalled"),
          healthEvent(HealthEventType::kTrainingStalled, 20, kT0 + 90 * kSecond, "w-stalled")});
  start("w-resumed", 1, kT0);
  insert({healthEvent(HealthEventType::kTrainingStalled, 10, kT0 + 50 * kSecond, "w-resumed"),
          healthEvent(HealthEventType::kTrainingResumed, 10, kT0 + 80 * kSecond, "w-resumed"),
          healthEvent(HealthEventType::kLossSpike, 30, kT0 + 90 * kSecond, "w-resumed")});

  const std::map<std::string, RunSummary> runs = runsByKey();
  const auto state = [&](const std::string& key) {
    const RunSummary& run = runs.at(key);
    return std::pair(std::string(nameOf(run.state)), run.since_us);
  };
  ASSERT_EQ(runs.size(), 8u);
  EXPECT_EQ(state("w-ended/1"), std::pair(std::string("ended"), kT0 + 100 * kSecond));
  EXPECT_EQ(state("w-ended/2"), std::pair(std::string("running"), kT0 + 200 * kSecond));
  EXPECT_EQ(state("w-next/1"), std::pair(std::string("superseded"), kT0 + 200 * kSecond));
  EXPECT_EQ(state("w-gone/1"), std::pair(std::string("gone"), kT0 + 300 * kSecond));
  EXPECT_EQ(state("w-gone-untimed/1"), std::pair(std::string("gone"), kT0 + 5 * kSecond))
      << "its start, without a time in gpu_workload";
  EXPECT_EQ(state("w-stalled/1"), std::pair(std::string("stalled"), kT0 + 90 * kSecond));
  EXPECT_EQ(state("w-resumed/1"), std::pair(std::string("running"), kT0 + 80 * kSecond));

  const auto filtered = [&](RunState wanted) {
    std::vector<std::string> found;
    for (const auto& [key, run] : runsByKey({.state = wanted})) found.push_back(key);
    return found;
  };
  EXPECT_THAT(filtered(RunState::kRunning), ElementsAre("w-ended/2", "w-next/2", "w-resumed/1"));
  EXPECT_THAT(filtered(RunState::kStalled), ElementsAre("w-stalled/1"));
  EXPECT_THAT(filtered(RunState::kEnded), ElementsAre("w-ended/1"));
  EXPECT_THAT(filtered(RunState::kSuperseded), ElementsAre("w-next/1"));
  EXPECT_THAT(filtered(RunState::kGone), ElementsAre("w-gone-untimed/1", "w-gone/1"));

  // By workload name, in any case; LIKE's wildcards are the characters themselves.
  const auto named = [&](const std::string& text, std::optional<RunState> wanted = {}) {
    std::vector<std::string> found;
    for (const auto& [key, run] : runsByKey({.state = wanted, .name_contains = text})) {
      found.push_back(key);
    }
    return found;
  };
  EXPECT_THAT(named("GONE"), ElementsAre("w-gone-untimed/1", "w-gone/1"));
  EXPECT_THAT(named("-untimed", RunState::kGone), ElementsAre("w-gone-untimed/1"));
  EXPECT_THAT(named("-untimed", RunState::kRunning), ElementsAre());
  EXPECT_THAT(named("w_gone"), ElementsAre());
  EXPECT_THAT(named("%"), ElementsAre());
  EXPECT_THAT(named("!"), ElementsAre());

  // Pages of one state hold `limit` runs of it.
  auto page = listRuns(*database_, {.state = RunState::kRunning, .limit = 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->runs.size(), 2u);
  EXPECT_TRUE(page->more);
  page = listRuns(*database_, {.state = RunState::kRunning,
                               .after = RunKey{page->runs[1].workload_uid, page->runs[1].serial},
                               .limit = 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].workload_uid, "w-resumed");
  EXPECT_FALSE(page->more);
}

TEST(RunStateTest, RunStatesHaveNames) {
  for (const RunState state : kRunStates) {
    EXPECT_THAT(runStateNamed(nameOf(state)), Optional(state));
  }
  EXPECT_EQ(nameOf(RunState::kSuperseded), "superseded");
  EXPECT_EQ(runStateNamed("done"), std::nullopt);
}

TEST(HealthEventTypeTest, HealthEventTypesHaveNames) {
  for (const HealthEventType type : kHealthEventTypes) {
    EXPECT_THAT(healthEventTypeNamed(nameOf(type)), Optional(type));
  }
  EXPECT_EQ(nameOf(HealthEventType::kThroughputDrop), "ThroughputDrop");
  EXPECT_EQ(healthEventTypeNamed("StartTrain"), std::nullopt);
}

TEST_F(HealthStorageTest, TheNewestRowsComeInIterationOrder) {
  migrate();
  std::vector<PerformanceRow> rows;
  for (const int64_t iteration : {4, 1, 5, 3, 2}) {
    rows.push_back({"w-job", common::concat("pod-", iteration),
                    common::concat(R"({"lm_loss":)", iteration, "}"), iteration, 1,
                    kT0 + iteration * kSecond});
  }
  rows.push_back({"w-job", "pod-0", "{}", 9, 2, kT0});
  ASSERT_TRUE(insertPerformanceRows(*database_, rows).ok());
  const RunKey run{"w-job", 1};
  auto newest = readNewestRows(*database_, run, 3);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), 3u);
  EXPECT_EQ((*newest)[0].iteration, 3);
  EXPECT_EQ((*newest)[1].iteration, 4);
  const ProgressRow& last = (*newest)[2];
  EXPECT_EQ(last.iteration, 5);
  EXPECT_EQ(last.time_us, kT0 + 5 * kSecond);
  EXPECT_EQ(last.pod_uid, "pod-5");
  EXPECT_EQ(last.performance_json, R"({"lm_loss":5})");
  newest = readNewestRows(*database_, run, 10);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->size(), 5u);
  EXPECT_THAT(*lastIteration(*database_, run), Optional(5));
  EXPECT_THAT(*lastIteration(*database_, RunKey{"w-job", 2}), Optional(9));
  EXPECT_EQ(*lastIteration(*database_, RunKey{"w-job", 3}), std::nullopt);
}

TEST_F(HealthStorageTest, CheckpointActivityIsTheLatestStartInProgressAndTheLatestEnd) {
  migrate();
  const RunKey run{"w-job", 1};
  const auto activity = [&] {
    auto read = checkpointActivity(*database_, run);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? *read : CheckpointActivity{};
  };
  EXPECT_EQ(activity().in_progress_since_us, std::nullopt);
  EXPECT_EQ(activity().last_end_us, std::nullopt);
  const auto line = [](CheckpointOperation operation, int64_t iteration, int64_t time_us,
                       int serial = 1) {
    return CheckpointLine{.workload_uid = "w-job",
                          .pod_uid = "pod-0",
                          .serial = serial,
                          .iteration = iteration,
                          .path = "/ckpt",
                          .operation = operation,
                          .time_us = time_us};
  };
  const CheckpointLine save = line(CheckpointOperation::kSave, 100, kT0 + 10 * kSecond);
  const CheckpointLine load = line(CheckpointOperation::kLoad, 50, kT0 + 5 * kSecond);
  const CheckpointLine other_run = line(CheckpointOperation::kSave, 100, kT0 + 20 * kSecond, 2);
  ASSERT_TRUE(insertCheckpointStarts(*database_, std::vector{save, load, other_run}).ok());
  EXPECT_THAT(activity().in_progress_since_us, Optional(kT0 + 10 * kSecond));
  CheckpointLine save_end = save;
  save_end.time_us = kT0 + 12 * kSecond;
  ASSERT_TRUE(completeCheckpoints(*database_, std::span(&save_end, 1)).ok());
  // The load never ended: it stays in progress.
  EXPECT_THAT(activity().in_progress_since_us, Optional(kT0 + 5 * kSecond));
  EXPECT_THAT(activity().last_end_us, Optional(kT0 + 12 * kSecond));
  CheckpointLine load_end = load;
  load_end.time_us = kT0 + 7 * kSecond;
  ASSERT_TRUE(completeCheckpoints(*database_, std::span(&load_end, 1)).ok());
  EXPECT_EQ(activity().in_progress_since_us, std::nullopt);
  EXPECT_THAT(activity().last_end_us, Optional(kT0 + 12 * kSecond));
}

TEST_F(HealthStorageTest, CompletedSavesWithADurationComeByEndTime) {
  migrate();
  const auto end = [](int serial, int64_t iteration, int64_t time_us,
                      std::optional<int64_t> duration_ms, const std::string& workload = "w-job") {
    return CheckpointLine{.workload_uid = workload,
                          .pod_uid = "pod-0",
                          .serial = serial,
                          .iteration = iteration,
                          .path = "/ckpt",
                          .operation = CheckpointOperation::kSave,
                          .time_us = time_us,
                          .duration_ms = duration_ms};
  };
  ASSERT_TRUE(
      completeCheckpoints(*database_, std::vector{end(2, 10, kT0 + 90 * kSecond, 3000),
                                                  end(1, 200, kT0 + 60 * kSecond, 1500),
                                                  end(1, 300, kT0 + 70 * kSecond, std::nullopt),
                                                  end(1, 100, kT0, 1000, "w-other")})
          .ok());
  const CheckpointLine load{.workload_uid = "w-job",
                            .serial = 1,
                            .iteration = 400,
                            .operation = CheckpointOperation::kLoad,
                            .time_us = kT0 + 80 * kSecond,
                            .duration_ms = 500};
  ASSERT_TRUE(completeCheckpoints(*database_, std::span(&load, 1)).ok());
  auto saves = readCompletedSaves(*database_, "w-job");
  ASSERT_TRUE(saves.ok()) << saves.status();
  ASSERT_EQ(saves->size(), 2u) << "not the save without a duration, nor the load";
  EXPECT_EQ((*saves)[0].serial, 1);
  EXPECT_EQ((*saves)[0].iteration, 200);
  EXPECT_EQ((*saves)[0].end_us, kT0 + 60 * kSecond);
  EXPECT_EQ((*saves)[0].duration_ms, 1500);
  EXPECT_EQ((*saves)[1].serial, 2);
  EXPECT_EQ((*saves)[1].duration_ms, 3000);
}

TEST_F(HealthStorageTest, ALeaseIsHeldByOneHolderUntilItExpires) {
  migrate();
  constexpr int64_t kTtl = 90 * kSecond;
  const auto hold = [&](const std::string& holder, int64_t now_us) {
    auto held = holdLease(*database_, "training-health", holder, now_us, kTtl);
    EXPECT_TRUE(held.ok()) << held.status();
    return held.value_or(false);
  };
  EXPECT_TRUE(hold("replica-a", kT0)) << "free";
  EXPECT_TRUE(hold("replica-a", kT0)) << "renewed with nothing changed";
  EXPECT_FALSE(hold("replica-b", kT0 + kSecond));
  EXPECT_TRUE(hold("replica-a", kT0 + 60 * kSecond)) << "renewed until kT0 + 150 s";
  EXPECT_FALSE(hold("replica-b", kT0 + 120 * kSecond)) << "the renewal holds it";
  EXPECT_TRUE(hold("replica-b", kT0 + 151 * kSecond)) << "expired: taken over";
  EXPECT_FALSE(hold("replica-a", kT0 + 152 * kSecond));
  auto other = holdLease(*database_, "other-task", "replica-a", kT0 + 152 * kSecond, kTtl);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(*other) << "leases are independent";
  EXPECT_EQ(testing::queryNumber(*database_, "SELECT count(*) FROM tp_leases"), 2);
}

}  // namespace
}  // namespace tp::storage
