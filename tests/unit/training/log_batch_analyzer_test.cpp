// The logs transform on records handed to it one by one, against a snapshot built in the test:
// pods found by UID, one row or event per workload of the pod, what is counted for lines it
// cannot attribute or use, and the node label that latencies are observed under.

#include "training/log_batch_analyzer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/fluentbit_records.h"

namespace tp::training {
namespace {

using telemetry::LogsMetrics;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int64_t kLineTimeUs = 1'761'223'152'000'000;
constexpr int64_t kNowUs = kLineTimeUs + 2'500'000;  // every line arrives 2.5 s after its date

// Pod train-0 (uid pod-0) of the job w-job, whose current run is the leaf workload w-run1; pod
// idle-0 (uid pod-idle) has no workload.
std::shared_ptr<const cache::ClusterSnapshot> trainingCluster() {
  cache::SnapshotBuilder builder;
  builder.addWorkloadPod({"train-0", "pod-0", "job", "w-job", ""});
  builder.addWorkloadPod({"train-0", "pod-0", "job-run1", "w-run1", "w-job"});
  return builder.build();
}

ingest::LogRecord record(std::string_view message, std::string_view pod_uid = "pod-0",
                         std::string_view pod_name = "train-0", std::string_view host = "node-a") {
  return {.time_us = kLineTimeUs,
          .message = message,
          .has_kubernetes = true,
          .pod_name = pod_name,
          .pod_uid = pod_uid,
          .namespace_name = "team",
          .host = host,
          .container_name = "pytorch"};
}

// A performance line whose iteration is printed as `iteration`.
std::string performanceLineWithIteration(const std::string& iteration) {
  std::string line = testing::performanceLine(7);
  const std::string printed = "iteration 7/";
  return line.replace(line.find(printed), printed.size(), "iteration " + iteration + "/");
}

class LogBatchAnalyzerTest : public ::testing::Test {
 protected:
  LogsMetrics metrics(size_t max_nodes = 100) {
    return telemetry_.logsMetrics(
        {ingest::kSkipReasonNames.begin(), ingest::kSkipReasonNames.end()},
        extractor_.formatNames(), max_nodes);
  }

  std::string exposition() const { return telemetry_.exposition(); }

  const std::shared_ptr<const cache::ClusterSnapshot> cluster_ = trainingCluster();
  const training::PerformanceExtractor extractor_;
  LogBatchAnalyzer analyzer_{*cluster_, extractor_, "10.0.0.9", kNowUs};
  telemetry::Telemetry telemetry_{"test"};
};

TEST_F(LogBatchAnalyzerTest, APerformanceLineBecomesOneRowPerWorkloadOfThePod) {
  const std::string line = testing::performanceLine(7);
  analyzer_.onRecord(record(line));
  const auto& rows = analyzer_.items().performances;
  ASSERT_EQ(rows.size(), 2u);
  std::vector<std::string> workloads;
  for (const training::PendingPerformance& row : rows) {
    workloads.push_back(row.workload_uid);
    EXPECT_EQ(row.nearest_workload_uid, "w-run1");
    EXPECT_EQ(row.pod_uid, "pod-0");
    EXPECT_EQ(row.iteration, 7);
    EXPECT_EQ(row.time_us, kLineTimeUs);
    EXPECT_THAT(row.performance_json, HasSubstr(R"("current_iteration":7)"));
    EXPECT_THAT(row.performance_json, HasSubstr(R"("consumed_samples":448)"));
  }
  EXPECT_THAT(workloads, ElementsAre("w-job", "w-run1"));
  EXPECT_THAT(analyzer_.items().starts, IsEmpty());
  EXPECT_EQ(analyzer_.records(), 1u);
}

TEST_F(LogBatchAnalyzerTest, AStartLineBecomesOneEventPerWorkloadOfThePod) {
  const std::string line = testing::startLine(3);
  analyzer_.onRecord(record(line));
  const auto& starts = analyzer_.items().starts;
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].workload_uid, "w-job");
  EXPECT_EQ(starts[1].workload_uid, "w-run1");
  for (const training::PendingStart& start : starts) {
    EXPECT_EQ(start.nearest_workload_uid, "w-run1");
    EXPECT_EQ(start.pod_uid, "pod-0");
    EXPECT_EQ(start.time_us, kLineTimeUs);
  }
  EXPECT_THAT(analyzer_.items().performances, IsEmpty());

  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.start_train_lines->Value(), 1);
  EXPECT_EQ(metrics.event_streams->Value(), 2);
  EXPECT_EQ(metrics.event_stream_errors->Value(), 0);
}

TEST_F(LogBatchAnalyzerTest, ThePodIsLookedUpByItsUidNotItsName) {
  const std::string line = testing::performanceLine(7);
  // The known UID under another name (a renamed pod) is the pod; the known name under another
  // UID (a new pod of the same name, not in the snapshot yet) is not.
  analyzer_.onRecord(record(line, "pod-0", "renamed-0"));
  analyzer_.onRecord(record(line, "pod-new", "train-0"));
  analyzer_.onRecord(record(line, "", "train-0"));
  ASSERT_EQ(analyzer_.items().performances.size(), 2u);
  EXPECT_EQ(analyzer_.items().performances[0].pod_uid, "pod-0");

  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.performance_lines->Value(), 3);
  EXPECT_EQ(metrics.unattributed_lines->Value(), 2);
}

TEST_F(LogBatchAnalyzerTest, TrainingLinesOfUnknownPodsAreCountedAndProduceNothing) {
  const std::string start = testing::startLine(0);
  const std::string performance = testing::performanceLine(1);
  analyzer_.onRecord(record(start, "pod-idle", "idle-0"));
  analyzer_.onRecord(record(performance, "pod-idle", "idle-0"));
  EXPECT_TRUE(analyzer_.items().empty());

  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.records_received->Value(), 2);
  EXPECT_EQ(metrics.start_train_lines->Value(), 1);
  EXPECT_EQ(metrics.event_stream_errors->Value(), 1);
  EXPECT_EQ(metrics.event_streams->Value(), 0);
  EXPECT_EQ(metrics.performance_lines->Value(), 1);
  EXPECT_EQ(metrics.unattributed_lines->Value(), 2);
  EXPECT_EQ(metrics.pattern_hits.at("primus-hip")->Value(), 1);
}

TEST_F(LogBatchAnalyzerTest, RecordsWithoutKubernetesOwnPodsAndOtherLinesAreNotAnalysed) {
  const std::string performance = testing::performanceLine(1);
  ingest::LogRecord without_kubernetes = record(performance);
  without_kubernetes.has_kubernetes = false;
  analyzer_.onRecord(without_kubernetes);
  analyzer_.onRecord(record(performance, "pod-0", "primus-lens-telemetry-processor-7d9f"));
  analyzer_.onRecord(record("loaded shard 12 of the training dataset"));
  EXPECT_TRUE(analyzer_.items().empty());

  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.records_received->Value(), 3);
  EXPECT_EQ(metrics.not_analysed_no_kubernetes->Value(), 1);
  EXPECT_EQ(metrics.not_analysed_own_pod->Value(), 1);
  EXPECT_EQ(metrics.performance_lines->Value(), 0);
  EXPECT_EQ(metrics.unattributed_lines->Value(), 0);
}

TEST_F(LogBatchAnalyzerTest, IterationsThatAreNotInt64OrBeyondTheColumnGiveNoRow) {
  // Beyond int64: not a performance line at all, a near miss.
  const std::string beyond_int64 = performanceLineWithIteration("99999999999999999999");
  // An int64 that the 32-bit column cannot hold, and the largest that it can.
  const std::string beyond_column = performanceLineWithIteration("2147483648");
  const std::string largest = performanceLineWithIteration("2147483647");
  analyzer_.onRecord(record(beyond_int64));
  analyzer_.onRecord(record(beyond_column));
  analyzer_.onRecord(record(largest));
  ASSERT_EQ(analyzer_.items().performances.size(), 2u);
  EXPECT_EQ(analyzer_.items().performances[0].iteration, 2147483647);

  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.bad_iteration_lines->Value(), 1);
  EXPECT_EQ(metrics.iteration_beyond_column_lines->Value(), 1);
  EXPECT_EQ(metrics.performance_lines->Value(), 2);
}

TEST_F(LogBatchAnalyzerTest, SkippedRecordsAreCountedByReason) {
  analyzer_.onSkipped(0, ingest::SkipReason::kInvalidDate);
  analyzer_.onSkipped(1, ingest::SkipReason::kInvalidDate);
  analyzer_.onSkipped(2, ingest::SkipReason::kNotAnObject);
  EXPECT_EQ(analyzer_.skipped(), 3u);
  EXPECT_EQ(analyzer_.records(), 0u);

  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.records_skipped[static_cast<size_t>(ingest::SkipReason::kInvalidDate)]->Value(),
            2);
  EXPECT_EQ(metrics.records_skipped[static_cast<size_t>(ingest::SkipReason::kNotAnObject)]->Value(),
            1);
  EXPECT_EQ(metrics.records_skipped[static_cast<size_t>(ingest::SkipReason::kWrongType)]->Value(),
            0);
}

TEST_F(LogBatchAnalyzerTest, NothingReachesTheMetricsBeforeCommit) {
  const std::string line = testing::performanceLine(7);
  LogsMetrics metrics = this->metrics();
  analyzer_.onRecord(record(line));
  EXPECT_EQ(metrics.records_received->Value(), 0);
  EXPECT_EQ(metrics.performance_lines->Value(), 0);
  EXPECT_THAT(exposition(), Not(HasSubstr(R"(node="node-a")")));
  analyzer_.commit(metrics);
  EXPECT_EQ(metrics.records_received->Value(), 1);
  EXPECT_EQ(metrics.performance_lines->Value(), 1);
}

TEST_F(LogBatchAnalyzerTest, LatencyIsObservedByHostOrClientAddress) {
  analyzer_.onRecord(record("a", "pod-0", "train-0", "node-a"));
  analyzer_.onRecord(record("b", "pod-0", "train-0", "node-a"));
  analyzer_.onRecord(record("c", "pod-0", "train-0", ""));
  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  const std::string text = exposition();
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="node-a"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_sum{node="node-a"} 5)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="10.0.0.9"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="10.0.0.9"} 1)"));
}

TEST_F(LogBatchAnalyzerTest, NodesBeyondTheLimitOverlongOrNotUtf8ShareTheOtherLabel) {
  LogsMetrics metrics = this->metrics(2);
  // The first batch's two nodes take the two labels the limit allows.
  analyzer_.onRecord(record("line", "pod-0", "train-0", "node-a"));
  analyzer_.onRecord(record("line", "pod-0", "train-0", "node-b"));
  analyzer_.commit(metrics);

  const std::string overlong(254, 'n');
  LogBatchAnalyzer later(*cluster_, extractor_, "10.0.0.9", kNowUs);
  for (std::string_view host : {std::string_view("node-c"), std::string_view(overlong),
                                std::string_view("node-\xff"), std::string_view("node-a")}) {
    later.onRecord(record("line", "pod-0", "train-0", host));
  }
  later.commit(metrics);
  const std::string text = exposition();
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="node-a"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="node-b"} 1)"));
  // node-c beyond the limit, the name longer than Kubernetes allows, the invalid byte.
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_seconds_count{node="other"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(log_consume_latency_histogram_seconds_count{node="other"} 3)"));
  EXPECT_THAT(text, Not(HasSubstr("node-c")));
  EXPECT_THAT(text, Not(HasSubstr("nnnn")));
}

TEST_F(LogBatchAnalyzerTest, OverlongOrNotUtf8NodesAreOtherEvenBelowTheLimit) {
  const std::string overlong(254, 'n');
  analyzer_.onRecord(record("line", "pod-0", "train-0", overlong));
  analyzer_.onRecord(record("line", "pod-0", "train-0", "\xc3\x28"));
  LogsMetrics metrics = this->metrics(100);
  analyzer_.commit(metrics);
  EXPECT_THAT(exposition(), HasSubstr(R"(log_consume_latency_seconds_count{node="other"} 2)"));
}

TEST_F(LogBatchAnalyzerTest, ANodeNameOfTheLongestKubernetesLengthKeepsItsLabel) {
  const std::string longest(253, 'm');
  analyzer_.onRecord(record("line", "pod-0", "train-0", longest));
  LogsMetrics metrics = this->metrics();
  analyzer_.commit(metrics);
  EXPECT_THAT(exposition(),
              HasSubstr("log_consume_latency_seconds_count{node=\"" + longest + "\"} 1"));
}

}  // namespace
}  // namespace tp::training
