// The explain route's answers on the golden enrichment cases (the rule each file names, and
// exactly the series it expects) and on Fluent Bit records, and its refusals of bad bodies; the
// tracer configuration's.

#include "app/debug_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>

#include "common/json_writer.h"
#include "storage/schema.h"
#include "storage/training_rows.h"
#include "support/enrich_golden.h"
#include "support/temp_dir.h"

namespace tp::app {
namespace {

// The explain body for a golden input: text form, and the samples as JSON (NaN has no JSON
// number, so a single sample goes in the text).
std::string explainBody(const testing::GoldenInput& input) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("series");
  if (input.samples.size() == 1) {
    common::writeString(writer, fmt::format("{} {} {}", input.labels_text, input.samples[0].first,
                                            input.samples[0].second));
  } else {
    common::writeString(writer, input.labels_text);
    writer.Key("samples");
    writer.StartArray();
    for (const auto& [value, timestamp] : input.samples) {
      writer.StartObject();
      writer.Key("value");
      writer.Double(value);
      writer.Key("timestamp");
      writer.Int64(timestamp);
      writer.EndObject();
    }
    writer.EndArray();
  }
  writer.EndObject();
  return buffer.GetString();
}

struct Explanation {
  std::string rule;
  std::string outcome;
  std::vector<std::string> forwarded;  // in the golden files' form
  uint64_t generation = 0;
};

Explanation parseExplanation(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element document = parser.parse(json);
  Explanation explanation;
  explanation.rule = std::string(std::string_view(document["rule"]));
  if (explanation.rule == "device") {
    explanation.rule += " " + std::string(std::string_view(document["device_label"]));
  }
  explanation.outcome = std::string(std::string_view(document["outcome"]));
  explanation.generation = uint64_t(document["cache"]["generation"]);
  for (simdjson::dom::element series : simdjson::dom::array(document["forwarded"])) {
    std::string text = "{";
    bool first = true;
    for (auto [name, value] : simdjson::dom::object(series["labels"])) {
      text += fmt::format("{}{}=\"{}\"", first ? "" : ",", name, std::string_view(value));
      first = false;
    }
    text += "}";
    for (simdjson::dom::element sample : simdjson::dom::array(series["samples"])) {
      text +=
          fmt::format(" {}@{}", std::string_view(sample["value"]), int64_t(sample["timestamp"]));
    }
    explanation.forwarded.push_back(text);
  }
  return explanation;
}

TEST(ExplainGolden, EveryInputIsExplainedByTheRuleAndOutputItsFileExpects) {
  size_t inputs = 0;
  for (auto& [file, golden] : testing::goldenEnrichCases(TP_GOLDEN_DIR)) {
    SCOPED_TRACE(file);
    const auto snapshot = golden->builder.build();
    const cache::SnapshotOrigin origin{.source = cache::SnapshotSource::kDatabase,
                                       .age = std::chrono::seconds(7),
                                       .generation = 3};
    for (const testing::GoldenInput& input : golden->inputs) {
      SCOPED_TRACE(input.labels_text);
      auto answer = explainRequest(explainBody(input),
                                   {.snapshot = *snapshot, .origin = origin, .now_ms = 1});
      ASSERT_TRUE(answer.ok()) << answer.status();
      const Explanation explanation = parseExplanation(*answer);
      EXPECT_EQ(explanation.rule, input.rule);
      EXPECT_EQ(explanation.outcome, input.expected.empty() ? "dropped" : "forwarded");
      EXPECT_EQ(explanation.generation, 3u);
      std::vector<std::string> expected = input.expected;
      std::vector<std::string> actual = explanation.forwarded;
      std::sort(expected.begin(), expected.end());
      std::sort(actual.begin(), actual.end());
      EXPECT_EQ(actual, expected);
      ++inputs;
    }
  }
  EXPECT_GE(inputs, 10u);
}

TEST(Explain, JsonLabelsAndDropReason) {
  cache::SnapshotBuilder builder;
  builder.addWorkloadPod({"train-0", "uid-t0", "pretrain", "w-1", ""});
  const auto snapshot = builder.build();
  auto answer = explainRequest(R"({"labels":{"__name__":"up","pod":"other"}})",
                               {.snapshot = *snapshot, .origin = {}, .now_ms = 5});
  ASSERT_TRUE(answer.ok()) << answer.status();
  simdjson::dom::parser parser;
  simdjson::dom::element document = parser.parse(*answer);
  EXPECT_EQ(std::string_view(document["rule"]), "pod");
  EXPECT_EQ(std::string_view(document["outcome"]), "dropped");
  EXPECT_EQ(std::string_view(document["drop_reason"]), "no_workload");
  EXPECT_TRUE(std::string_view(document["reason"]).starts_with("no_workload_found: "));
  EXPECT_EQ(int64_t(document["input"]["samples"].at(0)["timestamp"]), 5);
}

TEST(Explain, BadBodiesAreRefusedNamingTheProblem) {
  const auto snapshot = cache::SnapshotBuilder().build();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {R"({"series":"up{pod=\"a\"}")", "not JSON"},  // truncated
      {"garbage", "not JSON"},
      {"[1,2]", "JSON object"},
      {"{}", "give \"series\""},
      {R"({"series":5})", "series: must be a string"},
      {R"({"labels":["a"]})", "labels: must be an object"},
      {R"({"labels":{"pod":1}})", "labels.pod: must be a string"},
      {R"({"labels":{}})", "labels: empty"},
      {R"({"series":"up","labels":{"a":"b"}})", "one of"},
      {R"({"series":"up","extra":1})", "unknown field 'extra'"},
      {R"({"series":"up{pod=\"a\""})", "unterminated label set"},
      {R"({"series":"up{pod=a}"})", "expected '\"'"},
      {R"({"series":"up{pod}"})", "expected '='"},
      {R"({"series":"up{9x=\"a\"}"})", "expected a label name"},
      {R"({"series":"up{pod=\"a\\q\"}"})", "unknown escape"},
      {R"({"series":"9up"})", "must not start with a digit"},
      {R"({"series":"up x"})", "is no number"},
      {R"({"series":"up 1 1.5"})", "no integer"},
      {R"({"series":"up 1 2 3"})", "unexpected text"},
      {R"({"series":""})", "expected a metric name"},
      {R"({"series":"up","samples":{}})", "samples: must be an array"},
      {R"({"series":"up","samples":[1]})", "samples[0]: must be an object"},
      {R"({"series":"up","samples":[{"value":"x"}]})", "samples[0].value"},
      {R"({"series":"up","samples":[{"timestamp":1.5}]})", "samples[0].timestamp"},
      {R"({"series":"up","samples":[{"when":1}]})", "unknown field 'when'"},
      {R"({"record":[1]})", "record: must be a Fluent Bit record"},
      {R"({"record":{"log":"x"},"series":"up"})", "one of"},
      {R"({"record":{"log":"x"},"samples":[]})", "samples: only with a series"},
      {std::string(kMaxExplainBodyBytes + 1, ' '), "body over"},
  };
  for (const auto& [body, problem] : cases) {
    SCOPED_TRACE(body.substr(0, 80));
    auto answer = explainRequest(body, {.snapshot = *snapshot, .origin = {}, .now_ms = 1});
    ASSERT_FALSE(answer.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(answer.status())) << answer.status();
    EXPECT_NE(answer.status().message().find(problem), std::string::npos) << answer.status();
  }
}

TEST(Explain, TooManyLabelsIsRefused) {
  const auto snapshot = cache::SnapshotBuilder().build();
  std::string series = "up{";
  for (size_t i = 0; i <= ingest::kMaxLabelsPerSeries; ++i)
    series += fmt::format("l{}=\\\"v\\\",", i);
  series += "}";
  auto answer = explainRequest(fmt::format(R"({{"series":"{}"}})", series),
                               {.snapshot = *snapshot, .origin = {}, .now_ms = 1});
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.status().message().find("labels"), std::string::npos) << answer.status();
}

// A Fluent Bit record as Fluent Bit's kubernetes filter writes it.
std::string recordBody(std::string_view message, std::string_view pod_uid = "uid-t0",
                       std::string_view pod = "train-0") {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("record");
  writer.StartObject();
  writer.Key("date");
  writer.Double(1761223152.5);
  writer.Key("log");
  common::writeString(writer, message);
  writer.Key("kubernetes");
  writer.StartObject();
  writer.Key("pod_name");
  common::writeString(writer, pod);
  writer.Key("pod_id");
  common::writeString(writer, pod_uid);
  writer.Key("namespace_name");
  writer.String("team");
  writer.Key("host");
  writer.String("node-a");
  writer.EndObject();
  writer.EndObject();
  writer.EndObject();
  return buffer.GetString();
}

class ExplainRecord : public ::testing::Test {
 protected:
  ExplainRecord() {
    builder_.addWorkloadPod({"train-0", "uid-t0", "pretrain", "w-pretrain", ""});
    snapshot_ = builder_.build();
  }
  simdjson::dom::element explain(const std::string& body, storage::Database* database = nullptr,
                                 const config::TrainingSeriesConfig* series = nullptr) {
    auto answer = explainRequest(body, {.snapshot = *snapshot_,
                                        .origin = {},
                                        .now_ms = 1761223153000,
                                        .extractor = &extractor_,
                                        .client_address = "10.0.0.9",
                                        .database = database,
                                        .series = series});
    EXPECT_TRUE(answer.ok()) << answer.status();
    answer_ = answer.ok() ? *answer : "{}";
    return parser_.parse(answer_);
  }

  cache::SnapshotBuilder builder_;
  std::shared_ptr<const cache::ClusterSnapshot> snapshot_;
  training::PerformanceExtractor extractor_;
  simdjson::dom::parser parser_;
  std::string answer_;
};

TEST_F(ExplainRecord, PerformanceLineGivesItsFormatFieldsAndRows) {
  const auto answer = explain(recordBody(
      " iteration      424/   40000 | consumed samples:        27136 | elapsed time per iteration "
      "(ms): 16601.3/17219.3 | learning rate: 9.997254E-06 | global batch size:    64 | lm loss: "
      "4.447942E+00 | loss scale: 1.0 | grad norm: 6.142 | number of skipped iterations:   0 | "
      "number of nan iterations:   0 |"));
  EXPECT_TRUE(bool(answer["analysed"]));
  EXPECT_EQ(std::string_view(answer["node_label"]), "node-a");
  EXPECT_EQ(std::string_view(answer["line_kind"]), "performance");
  EXPECT_FALSE(std::string_view(answer["format"]).empty());
  EXPECT_EQ(int64_t(answer["fields"]["current_iteration"]), 424);
  ASSERT_EQ(simdjson::dom::array(answer["rows"]).size(), 1u);
  EXPECT_EQ(std::string_view(answer["rows"].at(0)["workload_uid"]), "w-pretrain");
  EXPECT_EQ(int64_t(answer["rows"].at(0)["iteration"]), 424);
  EXPECT_TRUE(simdjson::dom::array(answer["events"]).size() == 0);
}

TEST_F(ExplainRecord, RowsShowTheSeriesTheyBecomeWithTheRunTheDatabaseWouldGiveThem) {
  testing::TempDir dir;
  config::DbConfig db_config;
  db_config.path = (dir.path() / "lens.db").string();
  auto database = storage::Database::create(db_config);
  ASSERT_TRUE(database.ok()) << database.status();
  ASSERT_TRUE(storage::ensureSchema(**database, nullptr).ok());
  // An earlier run of the workload under another leaf: this line's run is the next one.
  const storage::RunEvent earlier{"w-pretrain", "w-earlier-leaf", "uid-old", 3, 1761220000000000};
  ASSERT_TRUE(storage::insertStartTrainEvents(**database, std::span(&earlier, 1)).ok());
  const std::string line =
      "iteration      424/   40000 | elapsed time per iteration (ms): 16601.3 | lm loss: "
      "4.447942E+00 |";

  const config::TrainingSeriesConfig series;
  const auto answer = explain(recordBody(line), database->get(), &series);
  std::map<std::string, std::string, std::less<>>
      values;  // sample values as the answer spells them
  for (simdjson::dom::element one : simdjson::dom::array(answer["series"])) {
    const simdjson::dom::element labels = one["labels"];
    EXPECT_EQ(std::string_view(labels["run"]), "4");
    EXPECT_EQ(std::string_view(labels["workload_uid"]), "w-pretrain");
    EXPECT_EQ(std::string_view(labels["pod_name"]), "train-0");
    ASSERT_EQ(simdjson::dom::array(one["samples"]).size(), 1u);
    EXPECT_EQ(int64_t(one["samples"].at(0)["timestamp"]), 1761223152500);
    values[std::string(std::string_view(labels["__name__"]))] =
        std::string_view(one["samples"].at(0)["value"]);
  }
  EXPECT_EQ(values, (std::map<std::string, std::string, std::less<>>{
                        {"workload_training_iteration", "424"},
                        {"workload_training_loss", "4.447942"},
                        {"workload_training_step_seconds", "16.6013"},
                        {"workload_training_target_iterations", "40000"}}));

  EXPECT_NE(std::string_view(explain(recordBody(line))["series_off"]).find("training.series"),
            std::string_view::npos);

  // A save that prints its duration becomes its checkpoint sample; one that prints none says
  // when it gets one.
  const auto saved = explain(
      recordBody("[titan] 2025-10-23 12:40:03,220 - root - INFO - Finished saving the checkpoint "
                 "in 3.22 seconds."),
      database->get(), &series);
  ASSERT_EQ(simdjson::dom::array(saved["series"]).size(), 1u);
  const simdjson::dom::element checkpoint = saved["series"].at(0);
  EXPECT_EQ(std::string_view(checkpoint["labels"]["__name__"]),
            "workload_training_checkpoint_seconds");
  EXPECT_EQ(std::string_view(checkpoint["samples"].at(0)["value"]), "3.22");
  EXPECT_TRUE(saved["series_note"].error() == simdjson::NO_SUCH_FIELD);
  const auto unmeasured = explain(
      recordBody("successfully saved checkpoint from iteration     100 to /ckpt [ t 1/1, p 1/1 ]"),
      database->get(), &series);
  EXPECT_EQ(simdjson::dom::array(unmeasured["series"]).size(), 0u);
  EXPECT_NE(std::string_view(unmeasured["series_note"]).find("end minus the start"),
            std::string_view::npos);
}

TEST_F(ExplainRecord, NearMissAndUnattributedAndNotAnalysed) {
  auto answer = explain(recordBody("iteration 5 went fine, loss: low"));
  EXPECT_EQ(std::string_view(answer["line_kind"]), "none");
  EXPECT_NE(std::string_view(answer["near_miss"]).find("looks like an iteration line"),
            std::string_view::npos);
  EXPECT_GT(simdjson::dom::array(answer["formats"]).size(), 0u);
  const simdjson::dom::element nearest = answer["nearest_formats"].at(0);
  EXPECT_EQ(std::string_view(nearest["format"]), "megatron");
  EXPECT_EQ(std::string_view(nearest["origin"]), "built-in");
  EXPECT_EQ(uint64_t(nearest["parts_found"]), 3u);
  EXPECT_EQ(std::string_view(nearest["missing"]), "'/' after the current iteration");
  EXPECT_EQ(std::string_view(nearest["looked_for_at"]), "went fine, loss: low");

  answer = explain(recordBody("training ...", "uid-unknown"));
  EXPECT_EQ(std::string_view(answer["line_kind"]), "start");
  EXPECT_NE(std::string_view(answer["not_attributed"]).find("uid-unknown"), std::string_view::npos);
  EXPECT_EQ(simdjson::dom::array(answer["events"]).size(), 0u);

  answer = explain(recordBody("training ..."));
  ASSERT_EQ(simdjson::dom::array(answer["events"]).size(), 1u);
  EXPECT_EQ(std::string_view(answer["events"].at(0)["type"]), "StartTrain");

  answer = explain(R"({"record":{"date":1761223152,"log":"training ..."}})");
  EXPECT_FALSE(bool(answer["analysed"]));
  EXPECT_EQ(std::string_view(answer["not_analysed_reason"]), "no_kubernetes");
  EXPECT_EQ(std::string_view(answer["node_label"]), "10.0.0.9");

  answer = explain(R"({"record":{"date":"yesterday","log":"x"}})");
  EXPECT_EQ(std::string_view(answer["skipped"]), "invalid_date");
}

TEST(TraceConfig, ParsesLensShapeAndRefusesWrongTypes) {
  auto config = parseTraceConfig(
      R"({"enabled":true,"metric_pattern":"^gpu_","label_selectors":{"pod":"test-*"},"max_records":50})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->enabled);
  EXPECT_EQ(config->metric_pattern, "^gpu_");
  ASSERT_EQ(config->label_selectors.size(), 1u);
  EXPECT_EQ(config->label_selectors[0].second, "test-*");
  EXPECT_EQ(config->max_records, 50u);
  for (const auto& [body, problem] : std::vector<std::pair<std::string, std::string>>{
           {"{", "not JSON"},
           {R"({"enabled":"yes"})", "enabled"},
           {R"({"metric_pattern":1})", "metric_pattern"},
           {R"({"label_selectors":{"pod":2}})", "label_selectors.pod"},
           {R"({"max_records":0})", "max_records"},
           {R"({"max_records":1.5})", "max_records"},
           {R"({"other":1})", "unknown field 'other'"}}) {
    auto refused = parseTraceConfig(body);
    ASSERT_FALSE(refused.ok()) << body;
    EXPECT_NE(refused.status().message().find(problem), std::string::npos) << refused.status();
  }
}

}  // namespace
}  // namespace tp::app
