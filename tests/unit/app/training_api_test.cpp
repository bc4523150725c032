// The runs and training-metrics APIs over SQLite, with rows written by the storage functions the
// logs path uses: runs with their state, progress and checkpoints, paged by cursor; metric names
// and counts; metric values filtered by name, run and time, in Lens's and robust-api's shapes,
// capped with a cursor; bad parameters named in a 400.

#include "app/training_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/strings.h"
#include "rapidjson/document.h"
#include "storage/schema.h"
#include "storage/training_health.h"
#include "storage/training_rows.h"
#include "support/cluster_rows.h"
#include "support/temp_dir.h"

namespace tp::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1761223152'123456;  // 2025-10-23T12:39:12.123456Z
constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kT0Ms = kT0 / 1000;

struct Answer {
  unsigned status = 0;
  std::string body;
  rapidjson::Document json;

  const rapidjson::Value& data() const { return json["data"]; }
};

std::vector<std::string> strings(const rapidjson::Value& array) {
  std::vector<std::string> values;
  for (const auto& value : array.GetArray()) values.emplace_back(value.GetString());
  return values;
}

class TrainingApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::DbConfig config;
    config.path = (dir_ / "lens.db").string();
    auto database = storage::Database::create(config);
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    ASSERT_TRUE(storage::ensureSchema(*database_, nullptr).ok());
    addTrainingRoutes(router_, *database_);
  }

  Answer get(const std::string& target) {
    const http::Router::Match match = router_.match(http::beast_http::verb::get, target);
    EXPECT_EQ(match.outcome, http::Router::Outcome::kFound) << target;
    Answer answer;
    if (match.outcome != http::Router::Outcome::kFound) return answer;
    http::Request request{http::beast_http::verb::get, target, 11};
    const http::RequestContext context{request, match.path, "", match.parameters};
    const http::Response response = match.route->handler(context);
    answer.status = response.result_int();
    answer.body = response.body();
    answer.json.Parse(answer.body.c_str());
    EXPECT_TRUE(answer.json.IsObject()) << answer.body;
    return answer;
  }

  void start(const std::string& workload, const std::string& nearest, int serial, int64_t time_us,
             const std::string& pod = "pod-0") {
    const storage::RunEvent event{workload, nearest, pod, serial, time_us};
    ASSERT_TRUE(storage::insertStartTrainEvents(*database_, std::span(&event, 1)).ok());
  }

  void end(const std::string& workload, const std::string& nearest, int serial, int64_t time_us) {
    const storage::RunEvent event{workload, nearest, "pod-0", serial, time_us};
    ASSERT_TRUE(storage::insertEndTrainEvents(*database_, std::span(&event, 1)).ok());
  }

  void row(const std::string& workload, int serial, int64_t iteration, int64_t time_us,
           const std::string& performance_json, const std::string& pod = "pod-0") {
    const storage::PerformanceRow row{workload, pod, performance_json, iteration, serial, time_us};
    ASSERT_TRUE(storage::insertPerformanceRows(*database_, std::span(&row, 1)).ok());
  }

  void save(const std::string& workload, int serial, int64_t iteration, int64_t time_us,
            int64_t duration_ms) {
    const storage::CheckpointLine line{.workload_uid = workload,
                                       .pod_uid = "pod-9",
                                       .serial = serial,
                                       .iteration = iteration,
                                       .path = "/ckpt",
                                       .operation = storage::CheckpointOperation::kSave,
                                       .time_us = time_us,
                                       .duration_ms = duration_ms};
    ASSERT_TRUE(storage::completeCheckpoints(*database_, std::span(&line, 1)).ok());
  }

  // Job "job" (w-job): run 1 with three iterations, a checkpoint and two pods, then run 2.
  void twoRuns() {
    testing::insertWorkload(*database_, "job", "w-job", "", "Running");
    start("w-job", "w-run1", 1, kT0);
    for (int64_t i = 1; i <= 3; ++i) {
      row("w-job", 1, i, kT0 + i * kSecond,
          common::concat(R"({"current_iteration":)", i, R"(,"target_iteration":100,"lm_loss":)",
                         3.0 - 0.5 * i, R"(,"tflops":"NaN","global_batch_size":512})"),
          i == 3 ? "pod-1" : "pod-0");
    }
    save("w-job", 1, 2, kT0 + 10 * kSecond, 1500);
    start("w-job", "w-run2", 2, kT0 + 3600 * kSecond, "pod-2");
    row("w-job", 2, 1, kT0 + 3601 * kSecond, R"({"current_iteration":1,"lm_loss":1.25})", "pod-2");
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> database_;
  telemetry::Telemetry telemetry_{"test"};
  http::Router router_{telemetry_};
};

TEST_F(TrainingApiTest, RunsShowProgressStateAndCheckpoints) {
  twoRuns();
  const Answer answer = get("/v1/training/runs");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_EQ(answer.json["meta"]["code"].GetInt(), 2000);
  const auto& runs = answer.data()["runs"];
  ASSERT_EQ(runs.Size(), 2u) << answer.body;
  const auto& first = runs[0];
  EXPECT_STREQ(first["workload_uid"].GetString(), "w-job");
  EXPECT_STREQ(first["workload_name"].GetString(), "job");
  EXPECT_EQ(first["serial"].GetInt(), 1);
  EXPECT_STREQ(first["nearest_workload_uid"].GetString(), "w-run1");
  EXPECT_THAT(strings(first["pods"]), ElementsAre("pod-0", "pod-1", "pod-9"));
  EXPECT_STREQ(first["started_at"].GetString(), "2025-10-23T12:39:12.123Z");
  EXPECT_EQ(first["last_iteration"].GetInt64(), 3);
  EXPECT_STREQ(first["last_iteration_at"].GetString(), "2025-10-23T12:39:15.123Z");
  EXPECT_EQ(first["target_iterations"].GetInt64(), 100);
  EXPECT_STREQ(first["state"].GetString(), "superseded") << "a later run exists";
  EXPECT_STREQ(first["since"].GetString(), "2025-10-23T13:39:12.123Z") << "the later run's start";
  EXPECT_EQ(first["checkpoints"]["count"].GetInt64(), 1);
  EXPECT_EQ(first["checkpoints"]["last_iteration"].GetInt64(), 2);
  EXPECT_EQ(first["checkpoints"]["last_duration_ms"].GetInt64(), 1500);

  const auto& second = runs[1];
  EXPECT_EQ(second["serial"].GetInt(), 2);
  EXPECT_STREQ(second["state"].GetString(), "running");
  EXPECT_STREQ(second["since"].GetString(), "2025-10-23T13:39:12.123Z") << "its start";
  EXPECT_THAT(strings(second["pods"]), ElementsAre("pod-2"));
  EXPECT_TRUE(second["target_iterations"].IsNull());
  EXPECT_EQ(second["checkpoints"]["count"].GetInt64(), 0);
  EXPECT_TRUE(second["checkpoints"]["last_iteration"].IsNull());
  EXPECT_TRUE(second["checkpoints"]["last_duration_ms"].IsNull());
  EXPECT_FALSE(answer.data().HasMember("next_cursor")) << "the last page";
}

TEST_F(TrainingApiTest, ARunWithoutRowsOrWorkloadHasNullProgress) {
  start("w-lone", "w-lone", 1, kT0);
  const Answer answer = get("/training/runs");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  const auto& run = answer.data()["runs"][0];
  EXPECT_STREQ(run["workload_name"].GetString(), "");
  EXPECT_TRUE(run["last_iteration"].IsNull());
  EXPECT_TRUE(run["last_iteration_at"].IsNull());
  EXPECT_THAT(strings(run["pods"]), ElementsAre("pod-0")) << "its StartTrain event's pod";
}

TEST_F(TrainingApiTest, EndTrainEndsARunAndStateFilters) {
  start("w-a", "w-a", 1, kT0);
  start("w-b", "w-b", 1, kT0);
  end("w-b", "w-b", 1, kT0 + 60 * kSecond);
  const auto states = [&](const std::string& query) {
    std::vector<std::string> found;
    const Answer answer = get("/v1/training/runs" + query);
    EXPECT_EQ(answer.status, 200u) << answer.body;
    for (const auto& run : answer.data()["runs"].GetArray()) {
      found.push_back(
          common::concat(run["workload_uid"].GetString(), " ", run["state"].GetString()));
    }
    return found;
  };
  EXPECT_THAT(states(""), ElementsAre("w-a running", "w-b ended"));
  EXPECT_THAT(states("?state=running"), ElementsAre("w-a running"));
  EXPECT_THAT(states("?state=ended"), ElementsAre("w-b ended"));
  EXPECT_THAT(states("?workload_uid=w-b"), ElementsAre("w-b ended"));
  EXPECT_THAT(states("?workload_uid=w-b&state=running"), ElementsAre());
}

TEST_F(TrainingApiTest, PagesFollowTheCursorInWorkloadAndSerialOrder) {
  start("w-b", "w-b1", 1, kT0);
  start("w-a", "w-a2", 2, kT0);
  start("w-c", "w-c1", 1, kT0);
  start("w-a", "w-a1", 1, kT0);
  start("w-b", "w-b2", 2, kT0);
  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  std::string target = "/v1/training/runs?limit=2";
  for (int page = 0; page < 5; ++page) {
    const Answer answer = get(target);
    ASSERT_EQ(answer.status, 200u) << answer.body;
    page_sizes.push_back(answer.data()["runs"].Size());
    for (const auto& run : answer.data()["runs"].GetArray()) {
      seen.push_back(common::concat(run["workload_uid"].GetString(), "/", run["serial"].GetInt()));
    }
    if (!answer.data().HasMember("next_cursor")) break;
    target = common::concat("/v1/training/runs?limit=2&cursor=",
                            answer.data()["next_cursor"].GetString());
  }
  EXPECT_THAT(page_sizes, ElementsAre(2, 2, 1));
  EXPECT_THAT(seen, ElementsAre("w-a/1", "w-a/2", "w-b/1", "w-b/2", "w-c/1"));
}

TEST_F(TrainingApiTest, BadParametersAre400NamingThem) {
  const auto message = [&](const std::string& target) {
    const Answer answer = get(target);
    EXPECT_EQ(answer.status, 400u) << target << ": " << answer.body;
    EXPECT_EQ(answer.json["meta"]["code"].GetInt(), 4001) << target;
    return std::string(answer.json["meta"]["message"].GetString());
  };
  for (const char* limit : {"0", "1001", "x", "10x"}) {
    EXPECT_THAT(message(common::concat("/v1/training/runs?limit=", limit)), HasSubstr("limit:"));
  }
  EXPECT_THAT(message("/v1/training/runs?state=done"),
              HasSubstr("state: must be running, stalled, ended, superseded or gone"));
  EXPECT_THAT(message("/v1/training/runs?cursor=zz"), HasSubstr("cursor:"));
  EXPECT_THAT(message("/v1/training/runs?cursor=616263"), HasSubstr("cursor:")) << "abc";
  for (const char* route : {"/v1/training/w-job/data", "/v1/workloads/w-job/metrics/available",
                            "/api/v1/training/w-job/data"}) {
    EXPECT_THAT(message(common::concat(route, "?run=0")), HasSubstr("run:"));
    EXPECT_THAT(message(common::concat(route, "?start=yesterday")), HasSubstr("start:"));
    EXPECT_THAT(message(common::concat(route, "?end=-1")), HasSubstr("end:"));
    EXPECT_THAT(message(common::concat(route, "?cursor=313a78")), HasSubstr("cursor:")) << "1:x";
    // "99999999999:5": a serial beyond any run's.
    EXPECT_THAT(message(common::concat(route, "?cursor=39393939393939393939393a35")),
                HasSubstr("cursor:"));
  }
  // Uids that no database would read alike: invalid UTF-8, a NUL, a control byte, too long.
  for (const std::string& uid : {std::string("w%C3%28"), std::string("w-job%00x"),
                                 std::string("w%0Ajob"), std::string(257, 'w')}) {
    EXPECT_THAT(message("/v1/training/" + uid + "/data"), HasSubstr("workload_uid:")) << uid;
    EXPECT_THAT(message("/v1/training/runs?workload_uid=" + uid), HasSubstr("workload_uid:"))
        << uid;
  }
  EXPECT_THAT(message("/v1/training/runs?cursor=2d393939393939393939393a77"), HasSubstr("cursor:"))
      << "-99999999999:w";
}

TEST_F(TrainingApiTest, AnUnreadableDatabaseIs503) {
  testing::exec(*database_, "DROP TABLE workload_event");
  const Answer answer = get("/v1/training/runs");
  EXPECT_EQ(answer.status, 503u) << answer.body;
  EXPECT_THAT(answer.body, HasSubstr("workload_event"));
}

TEST_F(TrainingApiTest, AvailableCountsTheFiniteValuesOfEachMetric) {
  twoRuns();
  Answer answer = get("/v1/training/w-job/available");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_STREQ(answer.data()["workload_uid"].GetString(), "w-job");
  const auto& metrics = answer.data()["metrics"];
  ASSERT_EQ(metrics.Size(), 2u) << answer.body << ": no iteration numbers, no NaN-only tflops";
  EXPECT_STREQ(metrics[0]["name"].GetString(), "global_batch_size");
  EXPECT_EQ(metrics[0]["count"].GetInt(), 3);
  EXPECT_THAT(strings(metrics[0]["data_source"]), ElementsAre("log"));
  EXPECT_STREQ(metrics[1]["name"].GetString(), "lm_loss");
  EXPECT_EQ(metrics[1]["count"].GetInt(), 4);
  EXPECT_EQ(answer.data()["total_count"].GetInt(), 2);

  answer = get("/v1/workloads/w-job/metrics/available?run=2");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  ASSERT_EQ(answer.data()["metrics"].Size(), 1u);
  EXPECT_EQ(answer.data()["metrics"][0]["count"].GetInt(), 1);

  answer = get("/api/v1/training/w-job/available");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_STREQ(answer.data()["workload_id"].GetString(), "w-job");
  EXPECT_THAT(strings(answer.data()["metrics"]), ElementsAre("global_batch_size", "lm_loss"));
  EXPECT_EQ(answer.data()["count"].GetInt(), 2);

  EXPECT_EQ(get("/v1/training/w-job/available?data_source=wandb").data()["metrics"].Size(), 0u);
  EXPECT_EQ(get("/api/v1/training/w-job/available?source=log").data()["metrics"].Size(), 2u);
  EXPECT_EQ(get("/v1/training/w-none/available").data()["total_count"].GetInt(), 0);
}

TEST_F(TrainingApiTest, DataInLensShapeIsOnePointPerValue) {
  twoRuns();
  const Answer answer = get("/v1/training/w-job/data?metrics=lm_loss");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_STREQ(answer.data()["workload_uid"].GetString(), "w-job");
  EXPECT_STREQ(answer.data()["data_source"].GetString(), "log");
  const auto& points = answer.data()["data"];
  ASSERT_EQ(points.Size(), 4u) << answer.body;
  EXPECT_EQ(answer.data()["total_count"].GetInt(), 4);
  EXPECT_STREQ(points[0]["metric_name"].GetString(), "lm_loss");
  EXPECT_DOUBLE_EQ(points[0]["value"].GetDouble(), 2.5);
  EXPECT_EQ(points[0]["timestamp"].GetInt64(), kT0Ms + 1000);
  EXPECT_EQ(points[0]["iteration"].GetInt(), 1);
  EXPECT_STREQ(points[0]["data_source"].GetString(), "log");
  EXPECT_EQ(points[3]["iteration"].GetInt(), 1) << "run 2 follows run 1";
  EXPECT_DOUBLE_EQ(points[3]["value"].GetDouble(), 1.25);
  EXPECT_FALSE(answer.data().HasMember("truncated"));
}

TEST_F(TrainingApiTest, DataFiltersByMetricsRunAndTime) {
  twoRuns();
  const auto count = [&](const std::string& query) {
    const Answer answer = get("/v1/workloads/w-job/metrics/data" + query);
    EXPECT_EQ(answer.status, 200u) << answer.body;
    return answer.data()["data"].Size();
  };
  EXPECT_EQ(count(""), 7u) << "lm_loss x4, global_batch_size x3; NaN left out";
  EXPECT_EQ(count("?metrics=all"), 7u);
  EXPECT_EQ(count("?metrics=%7Bglobal_batch_size%7D"), 3u) << "Grafana's {a,b}";
  EXPECT_EQ(count("?metrics=lm_loss%2Cglobal_batch_size&run=1"), 6u);
  EXPECT_EQ(count("?metrics=tflops"), 0u);
  EXPECT_EQ(count("?run=2"), 1u);
  EXPECT_EQ(count("?run=3"), 0u);
  // Iterations 2 and 3 of run 1 are at T0 + 2 s and T0 + 3 s; run 2's row an hour later.
  EXPECT_EQ(count(common::concat("?metrics=lm_loss&start=", kT0Ms + 2000, "&end=", kT0Ms + 3000)),
            2u);
  EXPECT_EQ(count(common::concat("?metrics=lm_loss&start=", kT0Ms + 2001)), 2u);
  EXPECT_EQ(count(common::concat("?end=", kT0Ms)), 0u);
  EXPECT_EQ(count("?data_source=wandb"), 0u);
}

TEST_F(TrainingApiTest, DataInRobustShapeIsOnePointPerIteration) {
  twoRuns();
  const Answer answer = get("/api/v1/training/w-job/data?start=0&end=9999999999999&page_size=1000");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_STREQ(answer.data()["workload_id"].GetString(), "w-job");
  const auto& points = answer.data()["points"];
  ASSERT_EQ(points.Size(), 4u) << answer.body;
  EXPECT_EQ(answer.data()["total"].GetInt(), 4);
  const auto& first = points[0];
  EXPECT_STREQ(first["source"].GetString(), "log");
  EXPECT_EQ(first["iteration"].GetInt(), 1);
  EXPECT_STREQ(first["timestamp"].GetString(), "2025-10-23T12:39:13.123Z");
  EXPECT_DOUBLE_EQ(first["metrics"]["lm_loss"].GetDouble(), 2.5);
  EXPECT_EQ(first["metrics"]["global_batch_size"].GetInt(), 512);
  EXPECT_FALSE(first["metrics"].HasMember("tflops")) << "NaN is no float64 in JSON";
  EXPECT_FALSE(first["metrics"].HasMember("current_iteration"));
  EXPECT_EQ(points[3]["metrics"].MemberCount(), 1u);
}

TEST_F(TrainingApiTest, DataIsCappedAtWholeRowsAndContinuesByCursor) {
  // Rows of 1000 values each: the cap falls after row 100.
  std::string performance = R"({"current_iteration":0)";
  for (int i = 0; i < 1000; ++i) performance += common::concat(R"(,"m)", i, R"(":)", i);
  performance += "}";
  std::vector<storage::PerformanceRow> rows;
  const size_t row_count = kMaxMetricValues / 1000 + 1;
  for (size_t i = 1; i <= row_count; ++i) {
    rows.push_back({"w-big", "pod-0", performance, static_cast<int64_t>(i), 1,
                    kT0 + static_cast<int64_t>(i) * kSecond});
  }
  ASSERT_TRUE(storage::insertPerformanceRows(*database_, rows).ok());

  Answer answer = get("/api/v1/training/w-big/data");
  ASSERT_EQ(answer.status, 200u);
  ASSERT_EQ(answer.data()["points"].Size(), row_count - 1);
  EXPECT_TRUE(answer.data()["truncated"].GetBool());
  ASSERT_TRUE(answer.data().HasMember("next_cursor"));
  answer = get(common::concat("/api/v1/training/w-big/data?cursor=",
                              answer.data()["next_cursor"].GetString()));
  ASSERT_EQ(answer.status, 200u);
  ASSERT_EQ(answer.data()["points"].Size(), 1u);
  EXPECT_EQ(answer.data()["points"][0]["iteration"].GetInt64(), static_cast<int64_t>(row_count));
  EXPECT_FALSE(answer.data().HasMember("truncated"));
  EXPECT_FALSE(answer.data().HasMember("next_cursor"));
}

// An event's iteration is where it happened; its occurrence is its key, which for a resumption is
// the stall it ends and for a rewind the previous run.
TEST_F(TrainingApiTest, HealthEventsShowWhereTheyHappenedAndTheirKey) {
  twoRuns();
  const std::vector<storage::HealthEvent> events = {
      {.workload_uid = "w-job",
       .run_serial = 1,
       .type = storage::HealthEventType::kTrainingResumed,
       .occurrence = 2,
       .time_us = kT0 + 3 * kSecond,
       .pod_uid = "pod-1",
       .detail_json = R"({"iteration":3,"stalled_iteration":2,"stalled_seconds":400})"},
      {.workload_uid = "w-job",
       .run_serial = 2,
       .type = storage::HealthEventType::kIterationRewind,
       .occurrence = 1,
       .time_us = kT0 + 3601 * kSecond,
       .pod_uid = "pod-2",
       .detail_json = R"({"iteration":1,"previous_run":1,"previous_last_iteration":3})"}};
  ASSERT_TRUE(storage::insertHealthEvents(*database_, events).ok());
  auto answer = get("/v1/training/w-job/events?run=2");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  ASSERT_EQ(answer.data()["events"].Size(), 1u) << answer.body;
  const auto& rewind = answer.data()["events"][0];
  EXPECT_STREQ(rewind["type"].GetString(), "IterationRewind");
  EXPECT_EQ(rewind["iteration"].GetInt64(), 1);
  EXPECT_EQ(rewind["occurrence"].GetInt64(), 1);
  EXPECT_EQ(rewind["detail"]["previous_last_iteration"].GetInt64(), 3);

  answer = get("/v1/training/w-job/events?run=1");
  ASSERT_EQ(answer.status, 200u) << answer.body;
  ASSERT_EQ(answer.data()["events"].Size(), 1u) << answer.body;
  const auto& resumed = answer.data()["events"][0];
  EXPECT_EQ(resumed["iteration"].GetInt64(), 3);
  EXPECT_EQ(resumed["occurrence"].GetInt64(), 2);
  EXPECT_STREQ(resumed["time"].GetString(), "2025-10-23T12:39:15.123Z");
  EXPECT_STREQ(resumed["pod_uid"].GetString(), "pod-1");
}

}  // namespace
}  // namespace tp::app
