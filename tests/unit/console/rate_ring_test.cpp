// The Overview's rates: each step's difference of sampled totals over the seconds between them,
// flows split by a label or filtered by one, skipped seconds, gaps, and ring slots reused.

#include "telemetry/rate_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prometheus/metric_family.h"

namespace tp::telemetry {
namespace {

using Labels = std::vector<prometheus::ClientMetric::Label>;
using Rates = std::vector<std::optional<double>>;

prometheus::ClientMetric series(double total, Labels labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = total;
  return metric;
}

prometheus::MetricFamily counter(std::string name, std::vector<prometheus::ClientMetric> metrics) {
  return prometheus::MetricFamily{.name = std::move(name),
                                  .help = "a test counter",
                                  .type = prometheus::MetricType::Counter,
                                  .metric = std::move(metrics)};
}

constexpr FlowSpec kReceived{
    .group = "metrics", .kind = "received", .family = "samples_received_total", .name = "all"};

// What the registry gives for kReceived: one unlabelled series.
std::vector<prometheus::MetricFamily> received(double total) {
  return {counter("samples_received_total", {series(total)})};
}

const FlowRates* flowNamed(const RateWindow& window, std::string_view name) {
  for (const FlowRates& flow : window.flows) {
    if (flow.name == name) return &flow;
  }
  return nullptr;
}

TEST(RateRing, RateIsTheDifferenceOfTotalsOverEachStep) {
  RateRing ring(std::vector<FlowSpec>{kReceived});
  ring.sample(100, received(0));
  ring.sample(101, received(10));
  ring.sample(102, received(30));

  const RateWindow window = ring.window(102, 1, 2);
  EXPECT_EQ(window.end_seconds, 102);
  EXPECT_EQ(window.step_seconds, 1);
  ASSERT_EQ(window.flows.size(), 1u);
  EXPECT_EQ(window.flows[0].group, "metrics");
  EXPECT_EQ(window.flows[0].kind, "received");
  EXPECT_EQ(window.flows[0].name, "all");
  EXPECT_EQ(window.flows[0].per_second, (Rates{10.0, 20.0}));

  // A longer step spans both differences; the first sample has nothing before it.
  EXPECT_EQ(ring.window(102, 2, 1).flows[0].per_second, (Rates{15.0}));
  EXPECT_EQ(ring.window(102, 1, 3).flows[0].per_second, (Rates{std::nullopt, 10.0, 20.0}));
}

TEST(RateRing, SplitByMakesAFlowPerLabelValueIncludingOneThatAppearsLater) {
  constexpr FlowSpec kDropped{
      .group = "logs", .kind = "dropped", .family = "records_dropped_total", .split_by = "reason"};
  RateRing ring(std::vector<FlowSpec>{kDropped});
  ring.sample(100, {counter("records_dropped_total", {series(5, {{"reason", "too_old"}})})});
  ring.sample(101, {counter("records_dropped_total", {series(7, {{"reason", "too_old"}}),
                                                      series(3, {{"reason", "too_large"}})})});
  ring.sample(102, {counter("records_dropped_total", {series(7, {{"reason", "too_old"}}),
                                                      series(9, {{"reason", "too_large"}})})});

  const RateWindow window = ring.window(102, 1, 2);
  ASSERT_EQ(window.flows.size(), 2u);
  const FlowRates* too_old = flowNamed(window, "too_old");
  const FlowRates* too_large = flowNamed(window, "too_large");
  ASSERT_NE(too_old, nullptr);
  ASSERT_NE(too_large, nullptr);
  EXPECT_EQ(too_old->group, "logs");
  EXPECT_EQ(too_old->kind, "dropped");
  EXPECT_EQ(too_old->per_second, (Rates{2.0, 0.0}));
  // Not there at 100: it started from nothing, so its first total is its first step's rate.
  EXPECT_EQ(too_large->per_second, (Rates{3.0, 6.0}));
  EXPECT_EQ(too_large->group, "logs");
}

TEST(RateRing, WhereLabelCountsOnlyTheMatchingSeries) {
  constexpr FlowSpec kWrites{.group = "endpoints",
                             .kind = "received",
                             .family = "http_requests_total",
                             .name = "remote_write",
                             .where_label = "endpoint",
                             .where_value = "/api/v1/write"};
  RateRing ring(std::vector<FlowSpec>{kWrites});
  const auto requests = [](double ok, double failed, double metrics, double unlabelled) {
    return std::vector<prometheus::MetricFamily>{
        counter("http_requests_total",
                {series(ok, {{"endpoint", "/api/v1/write"}, {"code", "200"}}),
                 series(failed, {{"code", "500"}, {"endpoint", "/api/v1/write"}}),
                 series(metrics, {{"endpoint", "/metrics"}, {"code", "200"}}), series(unlabelled)}),
        // Same label, other family: not this flow's.
        counter("other_total", {series(ok * 100, {{"endpoint", "/api/v1/write"}})})};
  };
  ring.sample(100, requests(10, 5, 100, 1000));
  ring.sample(101, requests(14, 6, 300, 5000));

  const RateWindow window = ring.window(101, 1, 1);
  ASSERT_EQ(window.flows.size(), 1u);
  EXPECT_EQ(window.flows[0].name, "remote_write");
  // Both /api/v1/write series, summed: (14 + 6) - (10 + 5).
  EXPECT_EQ(window.flows[0].per_second, (Rates{5.0}));
}

TEST(RateRing, SkippedSecondUsesTheNearestEarlierSampleWithinTheStepAndItsRealDistance) {
  RateRing ring(std::vector<FlowSpec>{kReceived});
  ring.sample(100, received(0));
  ring.sample(101, received(10));
  // The sampler skipped 102.
  ring.sample(103, received(40));
  ring.sample(104, received(50));

  const RateWindow window = ring.window(104, 2, 2);
  ASSERT_EQ(window.flows.size(), 1u);
  const Rates& rates = window.flows[0].per_second;
  ASSERT_EQ(rates.size(), 2u);
  // Step ending 102: 101 stands in for it, against 100.
  ASSERT_TRUE(rates[0].has_value());
  EXPECT_DOUBLE_EQ(*rates[0], 10.0);
  // Step ending 104: against 101 (for 102), over the 3 seconds between them, not 2.
  ASSERT_TRUE(rates[1].has_value());
  EXPECT_DOUBLE_EQ(*rates[1], 40.0 / 3.0);
}

TEST(RateRing, GapLongerThanTheStepGivesNoRate) {
  RateRing ring(std::vector<FlowSpec>{kReceived});
  ring.sample(100, received(0));
  ring.sample(105, received(50));

  EXPECT_EQ(ring.window(105, 1, 1).flows[0].per_second, (Rates{std::nullopt}));
  EXPECT_EQ(ring.window(105, 2, 1).flows[0].per_second, (Rates{std::nullopt}));
  EXPECT_EQ(ring.window(105, 5, 1).flows[0].per_second, (Rates{10.0}));
}

TEST(RateRing, StepsReachingBeyondTheRingGiveNoRateNotAReusedSlotsTotal) {
  RateRing ring(std::vector<FlowSpec>{kReceived});
  // 962 seconds at 10 a second: the last two overwrite the slots of 1000 and 1001.
  constexpr int64_t kFirst = 1000;
  constexpr int64_t kLast = kFirst + static_cast<int64_t>(RateRing::kSeconds) + 1;
  for (int64_t second = kFirst; second <= kLast; ++second) {
    ring.sample(second, received(10.0 * static_cast<double>(second - kFirst)));
  }

  // 960 one-second steps: the oldest needs 1001, whose slot now holds 1961.
  Rates expected(RateRing::kSeconds, 10.0);
  expected[0] = std::nullopt;
  EXPECT_EQ(ring.window(kLast, 1, RateRing::kSeconds).flows[0].per_second, expected);
  EXPECT_EQ(ring.window(kLast, 1, RateRing::kSeconds - 1).flows[0].per_second,
            Rates(RateRing::kSeconds - 1, 10.0));
  // The full 15 minutes at one point a minute still has every step's start.
  EXPECT_EQ(ring.window(kLast, 60, 15).flows[0].per_second, Rates(15, 10.0));
  // An old window whose slots were reused.
  EXPECT_EQ(ring.window(kFirst + 1, 1, 1).flows[0].per_second, (Rates{std::nullopt}));
}

TEST(RateRing, LastSampleIsTheLatestSecondSampled) {
  RateRing ring(std::vector<FlowSpec>{kReceived});
  EXPECT_FALSE(ring.lastSample().has_value());
  EXPECT_TRUE(ring.window(100, 1, 5).flows.empty());  // no flow before its first series

  // A second without the family still counts as sampled.
  ring.sample(100, {});
  EXPECT_EQ(ring.lastSample(), std::optional<int64_t>(100));
  ring.sample(101, received(7));
  EXPECT_EQ(ring.lastSample(), std::optional<int64_t>(101));
  const RateWindow window = ring.window(101, 1, 1);
  ASSERT_EQ(window.flows.size(), 1u);
  EXPECT_EQ(window.flows[0].per_second, (Rates{7.0}));
}

}  // namespace
}  // namespace tp::telemetry
