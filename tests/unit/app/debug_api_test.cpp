// The explain route's answers on the golden enrichment cases (the rule each file names, and
// exactly the series it expects), and its refusals of bad bodies; the tracer configuration's.

#include "app/debug_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>

#include "common/json_writer.h"
#include "support/enrich_golden.h"

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
      {R"({"record":{"log":"x"}})", "record:"},
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
