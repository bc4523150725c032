#include "telemetry/telemetry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tp::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(LogLatencyMetrics, NodeLabelsAreCappedAndTheRestCountUnderOther) {
  Telemetry telemetry("test");
  LogsMetrics metrics = telemetry.logsMetrics({"invalid_date"}, {"megatron"}, 2);
  metrics.latency->forNode("node-a").histogram->Observe(0.2);
  metrics.latency->forNode("node-b").histogram->Observe(0.2);
  metrics.latency->forNode("node-c").histogram->Observe(0.2);
  metrics.latency->forNode("node-d").summary->Observe(1.5);
  metrics.latency->forNode("node-a").histogram->Observe(4);  // known nodes keep their series
  const std::string text = telemetry.exposition();
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="node-a"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="node-b"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="other"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="other"} 1)"));
  EXPECT_THAT(text, Not(HasSubstr(R"(node="node-c")")));
  EXPECT_THAT(text, Not(HasSubstr(R"(node="node-d")")));
  // The SPEC's buckets.
  for (const char* bound :
       {"0.1", "0.5", "1", "2", "3", "5", "8", "10", "15", "30", "60", "120", "300"}) {
    EXPECT_THAT(
        text, HasSubstr(std::string(
                            R"(log_consume_latency_histogram_seconds_bucket{node="node-a",le=")") +
                        bound + "\"}"));
  }
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds{node="node-a",quantile="0.99"})"));
}

TEST(LogLatencyMetrics, BatchObservationCountsEveryValueAndKeepsBucketBoundaries) {
  Telemetry telemetry("test");
  LogsMetrics metrics = telemetry.logsMetrics({"invalid_date"}, {"megatron"}, 10);
  std::vector<double> seconds = {3, 0.5, 0.5, 0.5, 0};  // repeats, out of order
  metrics.latency->forNode("node-a").observe(seconds);
  const std::string text = telemetry.exposition();
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="node-a"} 5)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds{node="node-a",quantile="0.5"} 0.5)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="node-a"} 5)"));
  // The histogram sees the values themselves: 0.5 is in le="0.5".
  EXPECT_THAT(
      text, HasSubstr(R"(log_consume_latency_histogram_seconds_bucket{node="node-a",le="0.5"} 4)"));
}

TEST(LogLatencyMetrics, OverlongOrNonUtf8NodeNamesCountUnderOther) {
  Telemetry telemetry("test");
  LogsMetrics metrics = telemetry.logsMetrics({"invalid_date"}, {"megatron"}, 100);
  const std::string longest(253, 'a');  // the longest node name Kubernetes accepts
  for (const std::string& node :
       {longest, std::string("n\u00f6de"), std::string(254, 'b'), std::string(1 << 20, 'c'),
        std::string("node-\xff"), std::string("node-\xc3"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80")}) {
    metrics.latency->forNode(node).histogram->Observe(1);
  }
  const std::string text = telemetry.exposition();
  EXPECT_THAT(text,
              HasSubstr("log_consume_latency_histogram_seconds_count{node=\"" + longest + "\"} 1"));
  EXPECT_THAT(text, HasSubstr("log_consume_latency_histogram_seconds_count{node=\"n\u00f6de\"} 1"));
  // Too long, invalid byte, cut sequence, overlong form, surrogate, beyond U+10FFFF.
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="other"} 7)"));
  EXPECT_THAT(text, Not(HasSubstr("bbbb")));
  EXPECT_THAT(text, Not(HasSubstr("cccc")));
  EXPECT_THAT(text, Not(HasSubstr("node-")));
  EXPECT_LT(text.size(), 64u << 10);
}

}  // namespace
}  // namespace tp::telemetry
