#include "enrich/active_metrics.h"

#include <gtest/gtest.h>

#include "support/simulated_clock.h"

namespace tp::enrich {
namespace {

using std::chrono::minutes;

std::vector<std::string> namesOf(ActiveMetrics& metrics) {
  std::vector<std::string> names;
  for (const ActiveMetric& metric : metrics.list()) names.push_back(metric.name);
  return names;
}

TEST(ActiveMetrics, CountsSightingsAndKeepsFirstAndLastSeen) {
  testing::SimulatedClock clock;
  ActiveMetrics metrics({}, clock);
  const auto first = clock.wallNow();
  metrics.record("gpu_util", 3);
  clock.advance(minutes(2));
  metrics.record("gpu_util", 2);
  metrics.record("cpu", 1);
  const std::vector<ActiveMetric> list = metrics.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "cpu");
  EXPECT_EQ(list[1].name, "gpu_util");
  EXPECT_EQ(list[1].seen_count, 5u);
  EXPECT_EQ(list[1].first_seen, first);
  EXPECT_EQ(list[1].last_seen, clock.wallNow());
}

TEST(ActiveMetrics, NamesUnseenForTheTtlExpire) {
  testing::SimulatedClock clock;
  ActiveMetrics metrics({.ttl = minutes(10), .cleanup_interval = minutes(1)}, clock);
  metrics.record("old", 1);
  clock.advance(minutes(6));
  metrics.record("new", 1);
  clock.advance(minutes(5));
  EXPECT_EQ(namesOf(metrics), std::vector<std::string>{"new"});
}

TEST(ActiveMetrics, EntriesAreBounded) {
  testing::SimulatedClock clock;
  ActiveMetrics metrics({.max_entries = 16}, clock);
  for (int i = 0; i < 1000; ++i) metrics.record("metric_" + std::to_string(i), 1);
  const size_t kept = metrics.list().size();
  EXPECT_LE(kept, 16u);
  EXPECT_GT(kept, 0u);
  EXPECT_EQ(metrics.untracked(), 1000u - kept);
  // Once the kept names expire, new ones find room.
  clock.advance(minutes(31));
  metrics.record("fresh", 1);
  EXPECT_EQ(namesOf(metrics), std::vector<std::string>{"fresh"});
}

TEST(ActiveMetrics, BatchAddsEachDistinctNameOnceOnCommit) {
  testing::SimulatedClock clock;
  ActiveMetrics metrics({}, clock);
  ActiveMetrics::Batch batch(metrics);
  const ingest::DecodedSeries series;
  for (std::string_view name : {"a", "a", "b", "a", ""}) {
    batch.onResolved({.series = series, .metric_name = name});
  }
  EXPECT_TRUE(metrics.list().empty());  // nothing before commit
  batch.commit();
  const std::vector<ActiveMetric> list = metrics.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].seen_count, 3u);
  EXPECT_EQ(list[1].seen_count, 1u);
}

TEST(ActiveMetrics, BatchCountsInterleavedNamesBeyondItsTable) {
  testing::SimulatedClock clock;
  ActiveMetrics metrics({}, clock);
  ActiveMetrics::Batch batch(metrics);
  std::vector<std::string> names;
  names.reserve(300);
  for (int i = 0; i < 300; ++i) names.push_back("gpu_metric_" + std::to_string(i) + "_total");
  const ingest::DecodedSeries series;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& name : names) batch.onResolved({.series = series, .metric_name = name});
  }
  batch.commit();
  const std::vector<ActiveMetric> list = metrics.list();
  ASSERT_EQ(list.size(), names.size());
  for (const ActiveMetric& metric : list) EXPECT_EQ(metric.seen_count, 3u) << metric.name;
}

}  // namespace
}  // namespace tp::enrich
