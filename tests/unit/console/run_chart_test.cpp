// The run page's chart: a run's iterations in at most `points` buckets of equal width, each
// bucket's min, mean and max of every charted field, values that are not finite numbers skipped,
// and the first row's iteration and time.

#include "console/run_chart.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"

namespace tp::console {
namespace {

using Stats = std::vector<std::optional<double>>;

// The builder's members, written inside an object of their own and parsed; an element it gives
// is valid until the next parse.
class ChartJson {
 public:
  simdjson::dom::element parse(const RunChartBuilder& chart) {
    rapidjson::StringBuffer buffer;
    common::JsonWriter writer(buffer);
    writer.StartObject();
    chart.write(writer);
    writer.EndObject();
    json_ = buffer.GetString();
    return parser_.parse(json_);
  }

 private:
  simdjson::dom::parser parser_;
  std::string json_;
};

std::vector<int64_t> integers(simdjson::dom::element chart, std::string_view key) {
  std::vector<int64_t> values;
  for (simdjson::dom::element value : simdjson::dom::array(chart[key])) {
    values.push_back(int64_t(value));
  }
  return values;
}

// One of "min", "mean", "max" of a field, a bucket without a value as nullopt.
Stats stats(simdjson::dom::element chart, std::string_view field, std::string_view stat) {
  Stats values;
  for (simdjson::dom::element value : simdjson::dom::array(chart["series"][field][stat])) {
    if (value.is_null()) {
      values.emplace_back();
    } else {
      values.emplace_back(double(value));
    }
  }
  return values;
}

TEST(RunChart, HundredThousandIterationsFallIntoAtMostEightHundredBuckets) {
  RunChartBuilder chart(1, 100000, kDefaultChartPoints);
  EXPECT_EQ(chart.bucketIterations(), 125);
  for (int64_t iteration = 1; iteration <= 100000; ++iteration) {
    chart.add(iteration, iteration * 1'000'000, R"({"lm_loss":2.5})");
  }
  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  const std::vector<int64_t> iterations = integers(answer, "iteration");
  ASSERT_EQ(iterations.size(), 800u);
  EXPECT_EQ(iterations[0], 1);
  EXPECT_EQ(iterations[1], 126);
  EXPECT_EQ(iterations.back(), 1 + 799 * 125);
  const std::vector<int64_t> times = integers(answer, "time_ms");
  ASSERT_EQ(times.size(), 800u);
  EXPECT_EQ(times[1], 126'000);
  // Every charted field has its three arrays, one entry a bucket.
  for (const std::string_view field : kChartFields) {
    SCOPED_TRACE(field);
    for (const std::string_view stat : {"min", "mean", "max"}) {
      EXPECT_EQ(stats(answer, field, stat).size(), 800u) << stat;
    }
  }
  EXPECT_EQ(stats(answer, "lm_loss", "mean"), Stats(800, 2.5));
  EXPECT_EQ(stats(answer, "tflops", "max"), Stats(800, std::nullopt));
}

TEST(RunChart, SpanThatDoesNotDivideEvenlyStillGivesAtMostThePoints) {
  // 100 001 iterations into 800: width 126, 794 buckets.
  RunChartBuilder chart(0, 100000, kDefaultChartPoints);
  EXPECT_EQ(chart.bucketIterations(), 126);
  for (int64_t iteration = 0; iteration <= 100000; ++iteration) chart.add(iteration, 0, "{}");
  ChartJson json;
  const std::vector<int64_t> iterations = integers(json.parse(chart), "iteration");
  EXPECT_LE(iterations.size(), kDefaultChartPoints);
  EXPECT_EQ(iterations.size(), 794u);
  ASSERT_FALSE(iterations.empty());
  EXPECT_EQ(iterations.back(), 793 * 126);
}

TEST(RunChart, EachBucketHasTheMinMeanAndMaxOfItsRows) {
  RunChartBuilder chart(10, 19, 2);  // buckets 10..14 and 15..19
  ASSERT_EQ(chart.bucketIterations(), 5);
  chart.add(10, 1'000'000, R"({"lm_loss":4.0,"tflops":100})");  // an integer is a number too
  chart.add(11, 2'000'000, R"({"lm_loss":2.0})");
  chart.add(12, 3'000'000, R"({"lm_loss":3.0,"tflops":120.0})");
  chart.add(15, 6'000'000, R"({"lm_loss":1.5,"learning_rate":0.0001})");
  chart.add(17, 8'000'000, R"({"lm_loss":0.5})");

  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  EXPECT_EQ(integers(answer, "iteration"), (std::vector<int64_t>{10, 15}));
  EXPECT_EQ(stats(answer, "lm_loss", "min"), (Stats{2.0, 0.5}));
  EXPECT_EQ(stats(answer, "lm_loss", "mean"), (Stats{3.0, 1.0}));
  EXPECT_EQ(stats(answer, "lm_loss", "max"), (Stats{4.0, 1.5}));
  EXPECT_EQ(stats(answer, "tflops", "min"), (Stats{100.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "tflops", "mean"), (Stats{110.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "tflops", "max"), (Stats{120.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "learning_rate", "mean"), (Stats{std::nullopt, 0.0001}));
}

TEST(RunChart, NonFiniteAndMissingValuesAreSkippedAndABucketWithoutAnyGivesNull) {
  RunChartBuilder chart(1, 4, 2);  // buckets 1..2 and 3..4
  chart.add(1, 1'000, R"({"lm_loss":"NaN","tflops":50.0})");
  chart.add(2, 2'000, R"({"lm_loss":2.0,"tflops":"Infinity"})");
  chart.add(3, 3'000, R"({"learning_rate":null,"mem_usages":"12.5"})");
  chart.add(4, 4'000, R"({"lm_loss":"NaN"})");

  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  // The second bucket holds rows, so it is there, with nulls.
  EXPECT_EQ(integers(answer, "iteration"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(stats(answer, "lm_loss", "min"), (Stats{2.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "lm_loss", "mean"), (Stats{2.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "lm_loss", "max"), (Stats{2.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "tflops", "mean"), (Stats{50.0, std::nullopt}));
  EXPECT_EQ(stats(answer, "learning_rate", "max"), (Stats{std::nullopt, std::nullopt}));
  EXPECT_EQ(stats(answer, "mem_usages", "min"), (Stats{std::nullopt, std::nullopt}));
  EXPECT_EQ(stats(answer, "tokens_per_gpu", "mean"), (Stats{std::nullopt, std::nullopt}));
}

TEST(RunChart, TimeIsTheFirstRowsTimeInMillisecondsAndEmptyBucketsAreLeftOut) {
  RunChartBuilder chart(0, 14, 3);  // buckets 0..4, 5..9 (no row) and 10..14
  chart.add(0, 1'700'000'000'123'456, R"({"lm_loss":1.0})");
  chart.add(3, 1'700'000'003'999'999, R"({"lm_loss":1.0})");
  chart.add(12, 1'700'000'012'000'999, R"({"lm_loss":1.0})");
  chart.add(14, 1'700'000'014'000'000, R"({"lm_loss":1.0})");

  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  // A bucket is named by its first row's iteration, not by where it starts.
  EXPECT_EQ(integers(answer, "iteration"), (std::vector<int64_t>{0, 12}));
  EXPECT_EQ(integers(answer, "time_ms"),
            (std::vector<int64_t>{1'700'000'000'123, 1'700'000'012'000}));
  EXPECT_EQ(stats(answer, "lm_loss", "max").size(), 2u);
}

TEST(RunChart, RowsOutsideTheRunAreIgnored) {
  RunChartBuilder chart(100, 199, 10);  // ten buckets of ten
  chart.add(-5, 1'000, R"({"lm_loss":1000.0})");
  chart.add(99, 2'000, R"({"lm_loss":1000.0})");
  chart.add(100, 3'000, R"({"lm_loss":1.0})");
  chart.add(199, 4'000, R"({"lm_loss":2.0})");
  chart.add(200, 5'000, R"({"lm_loss":1000.0})");
  chart.add(250, 6'000, R"({"lm_loss":1000.0})");

  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  EXPECT_EQ(integers(answer, "iteration"), (std::vector<int64_t>{100, 199}));
  EXPECT_EQ(integers(answer, "time_ms"), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(stats(answer, "lm_loss", "max"), (Stats{1.0, 2.0}));
}

TEST(RunChart, RowsJustPastTheLastIterationAreIgnoredWhenTheLastBucketIsPartial) {
  // 0..9 in 4 buckets of 3: the last bucket spans 9..11, but the run ends at 9.
  RunChartBuilder chart(0, 9, 4);
  ASSERT_EQ(chart.bucketIterations(), 3);
  chart.add(9, 1'000, R"({"lm_loss":1.0})");
  chart.add(10, 2'000, R"({"lm_loss":1000.0})");

  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  EXPECT_EQ(integers(answer, "iteration"), (std::vector<int64_t>{9}));
  EXPECT_EQ(stats(answer, "lm_loss", "max"), (Stats{1.0}));
}

TEST(RunChart, SingleIterationRunIsOneBucket) {
  RunChartBuilder chart(7, 7, kDefaultChartPoints);
  EXPECT_EQ(chart.bucketIterations(), 1);
  chart.add(6, 1'000, R"({"lm_loss":9.0})");
  chart.add(7, 5'000, R"({"lm_loss":3.25,"tflops":210.5})");
  chart.add(8, 9'000, R"({"lm_loss":9.0})");

  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  EXPECT_EQ(integers(answer, "iteration"), (std::vector<int64_t>{7}));
  EXPECT_EQ(integers(answer, "time_ms"), (std::vector<int64_t>{5}));
  EXPECT_EQ(stats(answer, "lm_loss", "min"), (Stats{3.25}));
  EXPECT_EQ(stats(answer, "lm_loss", "mean"), (Stats{3.25}));
  EXPECT_EQ(stats(answer, "lm_loss", "max"), (Stats{3.25}));
  EXPECT_EQ(stats(answer, "tflops", "mean"), (Stats{210.5}));
}

TEST(RunChart, RunWithoutRowsWritesEmptyArrays) {
  // The route's extent of a run without rows: 0..0.
  RunChartBuilder chart(0, 0, kDefaultChartPoints);
  ChartJson json;
  const simdjson::dom::element answer = json.parse(chart);
  EXPECT_TRUE(integers(answer, "iteration").empty());
  EXPECT_TRUE(integers(answer, "time_ms").empty());
  EXPECT_TRUE(stats(answer, "lm_loss", "mean").empty());
}

}  // namespace
}  // namespace tp::console
