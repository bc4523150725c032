// Training rows on the production backends: the start and the end of one checkpoint operation,
// written at once by two replicas, leave exactly one complete row on PostgreSQL and MariaDB; the
// runs and training-metrics APIs read there what they read on SQLite (timestamps, JSON documents
// as each backend returns them, keyset pages). Health events written at once by two replicas are
// recorded and reported once, one of two racing holders gets a lease, and the health migration
// extends an existing database.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <latch>
#include <set>
#include <thread>

#include "app/training_api.h"
#include "common/strings.h"
#include "rapidjson/document.h"
#include "soci/soci.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "storage/training_health.h"
#include "storage/training_queries.h"
#include "storage/training_rows.h"
#include "support/checkpoint_rows.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"

namespace tp {
namespace {

constexpr int64_t kT0 = 1761223152'123456;
constexpr int64_t kSecond = 1'000'000;

class TrainingDatabaseTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = testing::startDatabase(GetParam());
    for (std::unique_ptr<storage::Database>* replica : {&a_, &b_}) {
      auto database = storage::Database::create(server_->dbConfig());
      ASSERT_TRUE(database.ok()) << database.status();
      *replica = std::move(*database);
      // Connected before the race, so that neither side is held back by its handshake.
      ASSERT_TRUE((*replica)->run([](soci::session& sql) { sql << "SELECT 1"; }).ok());
    }
    ASSERT_TRUE(storage::ensureSchema(*a_, nullptr).ok());
  }

  // Replica A writes the start while replica B writes the end, released together. Each tries
  // again after a failure, as the training writer does: InnoDB may pick either as the victim of
  // a deadlock (MariaDB reports it as "Failed to read auto-increment value").
  void race(const storage::CheckpointLine& start, const storage::CheckpointLine& end) {
    std::latch go(2);
    absl::Status started, ended;
    const auto retried = [](const std::function<absl::Status()>& write) {
      absl::Status status;
      for (int attempt = 0; attempt < 20; ++attempt) {
        status = write();
        if (status.ok()) break;
      }
      return status;
    };
    std::thread starter([&] {
      go.arrive_and_wait();
      started = retried(
          [&] { return storage::insertCheckpointStarts(*a_, std::span(&start, 1)).status(); });
    });
    std::thread ender([&] {
      go.arrive_and_wait();
      ended =
          retried([&] { return storage::completeCheckpoints(*b_, std::span(&end, 1)).status(); });
    });
    starter.join();
    ender.join();
    EXPECT_TRUE(started.ok()) << started;
    EXPECT_TRUE(ended.ok()) << ended;
  }

  std::unique_ptr<testing::DatabaseServer> server_;
  std::unique_ptr<storage::Database> a_, b_;
};

storage::CheckpointLine checkpointLine(storage::CheckpointOperation operation, int64_t iteration,
                                       bool end, std::optional<int64_t> duration_ms) {
  return {.workload_uid = "w-job",
          .pod_uid = "pod-0",
          .serial = 1,
          .iteration = iteration,
          .path = "/ckpt",
          .operation = operation,
          .time_us = kT0 + iteration * 60 * kSecond + (end ? 2 * kSecond : 0),
          .duration_ms = duration_ms};
}

TEST_P(TrainingDatabaseTest, ARacingStartAndEndOfOneOperationLeaveOneCompleteRow) {
  constexpr int kRounds = 30;
  for (const auto operation :
       {storage::CheckpointOperation::kSave, storage::CheckpointOperation::kLoad}) {
    for (int64_t iteration = 1; iteration <= kRounds; ++iteration) {
      // Every other end prints its duration; the others depend on the start being seen.
      const std::optional<int64_t> printed =
          iteration % 2 == 0 ? std::optional<int64_t>(1500) : std::nullopt;
      race(checkpointLine(operation, iteration, false, std::nullopt),
           checkpointLine(operation, iteration, true, printed));
    }
  }
  const std::vector<testing::StoredCheckpoint> rows = testing::readCheckpoints(*a_);
  ASSERT_EQ(rows.size(), 2u * kRounds) << "one row per operation";
  std::set<std::pair<std::string, int64_t>> operations;
  for (const testing::StoredCheckpoint& row : rows) {
    EXPECT_TRUE(row.event_type == "end_saving" || row.event_type == "loading") << row.event_type;
    EXPECT_EQ(row.status, "success") << row.event_type << " " << row.iteration;
    EXPECT_TRUE(row.start_us.has_value());
    EXPECT_EQ(row.end_us, kT0 + row.iteration * 60 * kSecond + 2 * kSecond);
    if (row.iteration % 2 == 0) {
      EXPECT_EQ(row.duration_ms, 1500);
    } else if (row.duration_ms) {
      EXPECT_EQ(*row.duration_ms, 2000) << "the time since the recorded start";
    }
    operations.emplace(row.event_type, row.iteration);
  }
  EXPECT_EQ(operations.size(), 2u * kRounds);
}

// GET `target` through the API's routes; the envelope's data.
rapidjson::Document apiGet(storage::Database& database, const std::string& target) {
  telemetry::Telemetry telemetry("test");
  http::Router router(telemetry);
  app::addTrainingRoutes(router, database);
  const http::Router::Match match = router.match(http::beast_http::verb::get, target);
  rapidjson::Document json;
  EXPECT_EQ(match.outcome, http::Router::Outcome::kFound) << target;
  if (match.outcome != http::Router::Outcome::kFound) return json;
  const http::Request request{http::beast_http::verb::get, target, 11};
  const http::Response response = match.route->handler({request, match.path, "", match.parameters});
  EXPECT_EQ(response.result_int(), 200u) << target << ": " << response.body();
  json.Parse(response.body().c_str());
  EXPECT_TRUE(json.IsObject() && json.HasMember("data")) << response.body();
  rapidjson::Document data;
  if (json.IsObject() && json.HasMember("data")) data.CopyFrom(json["data"], data.GetAllocator());
  return data;
}

TEST_P(TrainingDatabaseTest, TheApiReadsRunsAndMetricsAsOnSqlite) {
  testing::insertWorkload(*a_, "job", "w-job", "", "Running");
  const storage::RunEvent run1{"w-job", "w-run1", "pod-0", 1, kT0};
  const storage::RunEvent run2{"w-job", "w-run2", "pod-2", 2, kT0 + 3600 * kSecond};
  ASSERT_TRUE(storage::insertStartTrainEvents(*a_, std::vector{run1, run2}).ok());
  const storage::RunEvent ended{"w-job", "w-run2", "pod-2", 2, kT0 + 7200 * kSecond};
  ASSERT_TRUE(storage::insertEndTrainEvents(*a_, std::span(&ended, 1)).ok());
  std::vector<storage::PerformanceRow> rows;
  for (int64_t i = 1; i <= 3; ++i) {
    rows.push_back(
        {"w-job", "pod-0",
         common::concat(R"({"current_iteration":)", i, R"(,"target_iteration":100,"lm_loss":)",
                        3.0 - 0.5 * i, R"(,"tflops":"NaN","global_batch_size":512})"),
         i, 1, kT0 + i * kSecond});
  }
  ASSERT_TRUE(storage::insertPerformanceRows(*a_, rows).ok());
  // What a save line that names no iteration is keyed by.
  EXPECT_EQ(*storage::lastIterationBefore(*b_, "w-job", 1, kT0 + 2 * kSecond + 500'000), 2);
  EXPECT_EQ(*storage::lastIterationBefore(*b_, "w-job", 1, kT0), std::nullopt);
  EXPECT_EQ(*storage::lastIterationBefore(*b_, "w-job", 2, kT0 + 9 * kSecond), std::nullopt);
  storage::CheckpointLine saved =
      checkpointLine(storage::CheckpointOperation::kSave, 2, true, 1500);
  ASSERT_TRUE(storage::completeCheckpoints(*a_, std::span(&saved, 1)).ok());

  rapidjson::Document page = apiGet(*a_, "/v1/training/runs?limit=1");
  ASSERT_EQ(page["runs"].Size(), 1u);
  const auto& first = page["runs"][0];
  EXPECT_STREQ(first["workload_name"].GetString(), "job");
  EXPECT_EQ(first["serial"].GetInt(), 1);
  EXPECT_STREQ(first["started_at"].GetString(), "2025-10-23T12:39:12.123Z");
  EXPECT_EQ(first["last_iteration"].GetInt64(), 3);
  EXPECT_STREQ(first["last_iteration_at"].GetString(), "2025-10-23T12:39:15.123Z");
  EXPECT_EQ(first["target_iterations"].GetInt64(), 100);
  EXPECT_STREQ(first["state"].GetString(), "superseded");
  EXPECT_EQ(first["checkpoints"]["count"].GetInt64(), 1);
  EXPECT_EQ(first["checkpoints"]["last_duration_ms"].GetInt64(), 1500);
  ASSERT_EQ(first["pods"].Size(), 1u);
  EXPECT_STREQ(first["pods"][0].GetString(), "pod-0");
  ASSERT_TRUE(page.HasMember("next_cursor"));
  page = apiGet(
      *a_, common::concat("/v1/training/runs?limit=1&cursor=", page["next_cursor"].GetString()));
  ASSERT_EQ(page["runs"].Size(), 1u);
  EXPECT_EQ(page["runs"][0]["serial"].GetInt(), 2);
  EXPECT_STREQ(page["runs"][0]["state"].GetString(), "ended") << "its EndTrain";
  EXPECT_FALSE(page.HasMember("next_cursor"));
  EXPECT_EQ(apiGet(*a_, "/v1/training/runs?state=running")["runs"].Size(), 0u);

  const rapidjson::Document available = apiGet(*a_, "/v1/training/w-job/available");
  ASSERT_EQ(available["metrics"].Size(), 2u);
  EXPECT_STREQ(available["metrics"][1]["name"].GetString(), "lm_loss");
  EXPECT_EQ(available["metrics"][1]["count"].GetInt(), 3);

  const int64_t t0_ms = kT0 / 1000;
  const rapidjson::Document lens = apiGet(
      *a_, common::concat("/v1/workloads/w-job/metrics/data?metrics=lm_loss&start=", t0_ms + 2000,
                          "&end=", t0_ms + 3000));
  ASSERT_EQ(lens["data"].Size(), 2u) << "iterations 2 and 3";
  EXPECT_DOUBLE_EQ(lens["data"][0]["value"].GetDouble(), 2.0);
  EXPECT_EQ(lens["data"][0]["timestamp"].GetInt64(), t0_ms + 2000);
  EXPECT_EQ(lens["data"][1]["iteration"].GetInt(), 3);

  const rapidjson::Document robust = apiGet(*a_, "/api/v1/training/w-job/data?run=1");
  ASSERT_EQ(robust["points"].Size(), 3u);
  const auto& point = robust["points"][0];
  EXPECT_EQ(point["iteration"].GetInt(), 1);
  EXPECT_STREQ(point["timestamp"].GetString(), "2025-10-23T12:39:13.123Z");
  EXPECT_DOUBLE_EQ(point["metrics"]["lm_loss"].GetDouble(), 2.5);
  EXPECT_EQ(point["metrics"]["global_batch_size"].GetInt(), 512);
  EXPECT_EQ(point["metrics"].MemberCount(), 2u) << "no NaN, no iteration numbers";
}

// Runs `write` again after a failure, as the callers do: InnoDB may make either racer a
// deadlock victim, whose call then wrote nothing.
template <typename T>
absl::StatusOr<T> retried(const std::function<absl::StatusOr<T>()>& write) {
  absl::StatusOr<T> result = write();
  for (int attempt = 1; attempt < 20 && !result.ok(); ++attempt) result = write();
  return result;
}

// `first` on replica A and `second` on replica B, released together.
template <typename T>
std::pair<absl::StatusOr<T>, absl::StatusOr<T>> raced(
    const std::function<absl::StatusOr<T>(storage::Database&)>& first,
    const std::function<absl::StatusOr<T>(storage::Database&)>& second, storage::Database& a,
    storage::Database& b) {
  std::latch go(2);
  absl::StatusOr<T> first_result = absl::UnknownError("not run");
  absl::StatusOr<T> second_result = absl::UnknownError("not run");
  std::thread one([&] {
    go.arrive_and_wait();
    first_result = retried<T>([&] { return first(a); });
  });
  std::thread other([&] {
    go.arrive_and_wait();
    second_result = retried<T>([&] { return second(b); });
  });
  one.join();
  other.join();
  return {std::move(first_result), std::move(second_result)};
}

TEST_P(TrainingDatabaseTest, RacingReplicasRecordEachHealthEventOnceAndOneReportsIt) {
  constexpr int kRounds = 20;
  constexpr int kEventsPerRound = 4;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<storage::HealthEvent> events;
    for (int i = 0; i < kEventsPerRound; ++i) {
      events.push_back({.workload_uid = "w-job",
                        .run_serial = 1,
                        .type = storage::kHealthEventTypes[i],
                        .occurrence = round,
                        .time_us = kT0 + round * kSecond,
                        .pod_uid = "pod-0",
                        .detail_json = common::concat(R"({"iteration":)", round, "}")});
    }
    const auto insert = [&](storage::Database& database) {
      return storage::insertHealthEvents(database, events);
    };
    const auto [a, b] = raced<std::vector<bool>>(insert, insert, *a_, *b_);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    for (int i = 0; i < kEventsPerRound; ++i) {
      EXPECT_NE((*a)[i], (*b)[i]) << "exactly one replica reports event " << i << " of round "
                                  << round;
    }
  }
  EXPECT_EQ(testing::queryNumber(*a_, "SELECT count(*) FROM workload_event"),
            kRounds * kEventsPerRound);
  EXPECT_EQ(testing::queryNumber(*a_,
                                 "SELECT count(*) FROM (SELECT DISTINCT type, occurrence FROM "
                                 "workload_event) health_keys"),
            kRounds * kEventsPerRound);
}

TEST_P(TrainingDatabaseTest, OfTwoHoldersRacingForALeaseExactlyOneHoldsIt) {
  constexpr int kRounds = 20;
  constexpr int64_t kTtl = 60 * kSecond;
  const auto race = [&](const std::string& lease, int64_t now_us) {
    const auto claim = [&](const std::string& holder) {
      return [&lease, holder, now_us](storage::Database& database) {
        return storage::holdLease(database, lease, holder, now_us, kTtl);
      };
    };
    const auto [a, b] = raced<bool>(claim("replica-a"), claim("replica-b"), *a_, *b_);
    EXPECT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(b.ok()) << b.status();
    EXPECT_NE(a.value_or(false), b.value_or(false)) << lease << " at " << now_us;
    return a.value_or(false) ? "replica-a" : "replica-b";
  };
  for (int round = 0; round < kRounds; ++round) {
    const std::string lease = common::concat("task-", round);
    const std::string holder = race(lease, kT0);  // a new lease
    EXPECT_TRUE(*storage::holdLease(*a_, lease, holder, kT0, kTtl)) << "renewed, unchanged";
    race(lease, kT0 + kTtl + kSecond);  // expired
  }
  EXPECT_EQ(testing::queryNumber(*a_, "SELECT count(*) FROM tp_leases"), kRounds);
}

TEST_P(TrainingDatabaseTest, TheHealthMigrationAddsItsColumnsToAnExistingDatabase) {
  // The database as migrations 1-4 left it, with a run.
  const bool mysql = GetParam() == "mysql";
  testing::exec(*a_, mysql ? "DROP INDEX uq_tp_workload_event_occurrence ON workload_event"
                           : "DROP INDEX uq_tp_workload_event_occurrence");
  testing::exec(*a_, "ALTER TABLE workload_event DROP COLUMN detail");
  testing::exec(*a_, "ALTER TABLE workload_event DROP COLUMN occurrence");
  testing::exec(*a_, "DROP TABLE tp_leases");
  testing::exec(*a_, "DELETE FROM tp_schema_migrations WHERE version = 5");
  const storage::RunEvent run{"w-job", "w-run1", "pod-0", 1, kT0};
  ASSERT_TRUE(storage::insertStartTrainEvents(*a_, std::span(&run, 1)).ok());

  std::vector<std::string> warnings;
  ASSERT_TRUE(storage::ensureSchema(*b_, &warnings).ok());
  EXPECT_THAT(warnings, ::testing::ElementsAre());
  EXPECT_EQ(testing::queryNumber(*a_,
                                 "SELECT count(*) FROM workload_event WHERE detail IS NULL AND "
                                 "occurrence IS NULL"),
            1);
  auto missing = storage::tablesWithoutUniqueKey(*a_);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_THAT(*missing, ::testing::ElementsAre());
  const storage::HealthEvent stall{.workload_uid = "w-job",
                                   .run_serial = 1,
                                   .type = storage::HealthEventType::kTrainingStalled,
                                   .occurrence = 100,
                                   .time_us = kT0 + 60 * kSecond,
                                   .detail_json = R"({"iteration":100})"};
  EXPECT_THAT(*storage::insertHealthEvents(*a_, std::span(&stall, 1)),
              ::testing::ElementsAre(true));
  EXPECT_THAT(*storage::insertHealthEvents(*b_, std::span(&stall, 1)),
              ::testing::ElementsAre(false));
  EXPECT_TRUE(*storage::holdLease(*a_, "training-health", "replica-a", kT0, kSecond));
}

// What the detector and the runs API read, as on SQLite.
TEST_P(TrainingDatabaseTest, TheHealthReadsAsOnSqlite) {
  const storage::Driver driver = a_->dialect().driver;
  testing::insertWorkload(*a_, "job", "w-job", "", "Running");
  testing::insertWorkload(*a_, "old", "w-old", "", "Done");
  testing::exec(*a_, common::concat("UPDATE gpu_workload SET end_at = ",
                                    driver == storage::Driver::kPostgres ? "CAST('" : "'",
                                    storage::formatTimestamp(driver, kT0 + 90 * kSecond), "'",
                                    driver == storage::Driver::kPostgres ? " AS TIMESTAMPTZ)" : "",
                                    " WHERE uid = 'w-old'"));
  const std::vector<storage::RunEvent> runs = {{"w-job", "w-run1", "pod-0", 1, kT0},
                                               {"w-job", "w-run2", "pod-0", 2, kT0 + 60 * kSecond},
                                               {"w-old", "w-old1", "pod-0", 1, kT0}};
  ASSERT_TRUE(storage::insertStartTrainEvents(*a_, runs).ok());
  const storage::HealthEvent stall{.workload_uid = "w-job",
                                   .run_serial = 2,
                                   .type = storage::HealthEventType::kTrainingStalled,
                                   .occurrence = 7,
                                   .time_us = kT0 + 120 * kSecond + 1,
                                   .pod_uid = "pod-0",
                                   .detail_json = R"({"iteration":7})"};
  ASSERT_TRUE(storage::insertHealthEvents(*a_, std::span(&stall, 1)).ok());
  std::vector<storage::PerformanceRow> rows;
  for (int64_t i = 5; i <= 7; ++i) {
    rows.push_back({"w-job", "pod-0", R"({"lm_loss":1.5})", i, 2, kT0 + 60 * kSecond + i});
  }
  ASSERT_TRUE(storage::insertPerformanceRows(*a_, rows).ok());
  storage::CheckpointLine save = checkpointLine(storage::CheckpointOperation::kSave, 6, false, {});
  save.serial = 2;
  ASSERT_TRUE(storage::insertCheckpointStarts(*a_, std::span(&save, 1)).ok());

  auto page = storage::listRuns(*b_, {});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->runs.size(), 3u);
  EXPECT_EQ(page->runs[0].state, storage::RunState::kSuperseded);
  EXPECT_EQ(page->runs[0].since_us, kT0 + 60 * kSecond);
  EXPECT_EQ(page->runs[1].state, storage::RunState::kStalled);
  EXPECT_EQ(page->runs[1].since_us, kT0 + 120 * kSecond + 1);
  EXPECT_EQ(page->runs[2].state, storage::RunState::kGone);
  EXPECT_EQ(page->runs[2].since_us, kT0 + 90 * kSecond);
  page = storage::listRuns(*b_, {.state = storage::RunState::kStalled});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].serial, 2);
  // The name filter is the same on every backend: any case, wildcards taken literally.
  for (const auto& [text, expected] : std::vector<std::pair<std::string, size_t>>{
           {"JO", 2}, {"ol", 1}, {"o", 3}, {"j_b", 0}, {"%", 0}}) {
    page = storage::listRuns(*b_, {.name_contains = text});
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->runs.size(), expected) << text;
  }

  auto health_runs = storage::listHealthRuns(*b_, kT0 + 61 * kSecond, 10);
  ASSERT_TRUE(health_runs.ok()) << health_runs.status();
  ASSERT_EQ(health_runs->size(), 2u) << "run 1 was superseded before the time asked";
  EXPECT_EQ((*health_runs)[0].key.serial, 2);
  EXPECT_EQ((*health_runs)[0].workload_name, "job");
  EXPECT_EQ((*health_runs)[0].namespace_name, "team");
  EXPECT_EQ((*health_runs)[1].key.workload_uid, "w-old");
  EXPECT_EQ((*health_runs)[1].gone_us, kT0 + 90 * kSecond);

  auto events = storage::readHealthEvents(*b_, "w-job");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].time_us, stall.time_us);
  EXPECT_EQ((*events)[0].occurrence, 7);
  EXPECT_THAT((*events)[0].detail_json, ::testing::HasSubstr(R"("iteration")"));
  const storage::RunKey run2{"w-job", 2};
  auto newest = storage::readNewestRows(*b_, run2, 2);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[1].iteration, 7);
  EXPECT_EQ((*newest)[1].time_us, kT0 + 60 * kSecond + 7);
  EXPECT_EQ(*storage::lastIteration(*b_, run2), 7);
  EXPECT_EQ(storage::checkpointActivity(*b_, run2)->in_progress_since_us, save.time_us);
  storage::CheckpointLine saved = save;
  saved.time_us += 2 * kSecond;
  ASSERT_TRUE(storage::completeCheckpoints(*a_, std::span(&saved, 1)).ok());
  EXPECT_EQ(storage::checkpointActivity(*b_, run2)->in_progress_since_us, std::nullopt);
  EXPECT_EQ(storage::checkpointActivity(*b_, run2)->last_end_us, saved.time_us);
  auto saves = storage::readCompletedSaves(*b_, "w-job");
  ASSERT_TRUE(saves.ok()) << saves.status();
  ASSERT_EQ(saves->size(), 1u);
  EXPECT_EQ((*saves)[0].end_us, saved.time_us);
  EXPECT_EQ((*saves)[0].duration_ms, 2000);
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainingDatabaseTest, ::testing::Values("postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
