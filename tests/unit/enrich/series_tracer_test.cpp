// The enricher's observer and the tracer on the golden enrichment cases: every input is resolved
// by the rule its file names, and every tracer record says what was forwarded. Plus the tracer's
// selectors, pattern, ring and configuration errors.

#include "enrich/series_tracer.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "support/enrich_golden.h"
#include "support/simulated_clock.h"

namespace tp::enrich {
namespace {

std::string ruleOf(const SeriesResolution& resolution) {
  std::string rule = kPodRuleNames[static_cast<size_t>(resolution.rule)];
  if (resolution.rule == PodRule::kDevice) {
    rule += " ";
    rule += cache::kDeviceLabelNames[resolution.device_label];
  }
  return rule;
}

class RuleRecorder final : public SeriesObserver {
 public:
  void onResolved(const SeriesResolution& resolution) override {
    rules.push_back(ruleOf(resolution));
  }
  std::vector<std::string> rules;
};

std::string labelOf(const std::string& series_text, const std::string& name) {
  const size_t close = series_text.find('}');
  for (const auto& [label, value] : testing::parseGoldenLabels(series_text.substr(0, close + 1))) {
    if (label == name) return value;
  }
  return {};
}

size_t samplesOf(const std::string& series_text) {
  const std::string rest = series_text.substr(series_text.find('}') + 1);
  return static_cast<size_t>(std::count(rest.begin(), rest.end(), '@'));
}

TEST(EnrichGolden, ObserverNamesTheRuleOfEveryInput) {
  size_t inputs = 0;
  for (auto& [file, golden] : testing::goldenEnrichCases(TP_GOLDEN_DIR)) {
    SCOPED_TRACE(file);
    const auto snapshot = golden->builder.build();
    prompb::OutputBuffer out;
    SeriesEnricher enricher(*snapshot, out);
    RuleRecorder recorder;
    enricher.setObserver(&recorder);
    ASSERT_TRUE(ingest::decodeWriteRequest(golden->input.SerializeAsString(),
                                           ingest::RemoteWriteVersion::kV1, enricher, nullptr)
                    .ok());
    ASSERT_EQ(recorder.rules.size(), golden->inputs.size());
    for (size_t i = 0; i < golden->inputs.size(); ++i) {
      EXPECT_EQ(recorder.rules[i], golden->inputs[i].rule) << golden->inputs[i].labels_text;
      ++inputs;
    }
  }
  EXPECT_GE(inputs, 10u);
}

TEST(EnrichGolden, TracerRecordsMatchTheForwardedOutput) {
  testing::SimulatedClock clock;
  size_t records_checked = 0;
  for (auto& [file, golden] : testing::goldenEnrichCases(TP_GOLDEN_DIR)) {
    SCOPED_TRACE(file);
    SeriesTracer tracer(clock);
    ASSERT_TRUE(tracer.configure({.enabled = true}).ok());
    ASSERT_TRUE(tracer.enabled());
    const auto snapshot = golden->builder.build();
    prompb::OutputBuffer out;
    SeriesEnricher enricher(*snapshot, out);
    SeriesTracer::Session session = tracer.session();
    enricher.setObserver(&session);
    ASSERT_TRUE(ingest::decodeWriteRequest(golden->input.SerializeAsString(),
                                           ingest::RemoteWriteVersion::kV1, enricher, nullptr)
                    .ok());
    session.commit();
    // Inputs without a name are not traced (there is no name to match).
    std::vector<const testing::GoldenInput*> named;
    for (const testing::GoldenInput& input : golden->inputs) {
      if (!labelOf(input.labels_text, "__name__").empty()) named.push_back(&input);
    }
    const std::vector<TraceRecord> records = tracer.records();
    ASSERT_EQ(records.size(), named.size());
    size_t passed = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      const TraceRecord& record = records[i];
      const testing::GoldenInput& input = *named[i];
      SCOPED_TRACE(input.labels_text);
      EXPECT_EQ(record.metric_name, labelOf(input.labels_text, "__name__"));
      EXPECT_EQ(record.passed, !input.expected.empty()) << record.reason;
      EXPECT_EQ(record.timestamp, clock.wallNow());
      if (input.expected.empty()) {
        EXPECT_EQ(record.sample_count, 0u);
        EXPECT_TRUE(record.reason.starts_with("missing_pod_info: ") ||
                    record.reason.starts_with("no_workload_found: ") ||
                    record.reason.starts_with("all_samples_negative: "))
            << record.reason;
        continue;
      }
      ++passed;
      EXPECT_TRUE(record.reason.starts_with("passed: ")) << record.reason;
      for (const std::string& expected : input.expected) {
        EXPECT_EQ(record.pod_name, labelOf(expected, "pod_name"));
        EXPECT_EQ(record.pod_uid, labelOf(expected, "pod_uid"));
        EXPECT_EQ(record.sample_count, samplesOf(expected));
      }
      ++records_checked;
    }
    const TraceStats stats = tracer.stats();
    EXPECT_EQ(stats.total_matched, named.size());
    EXPECT_EQ(stats.total_passed, passed);
    EXPECT_EQ(stats.total_filtered, named.size() - passed);
    EXPECT_EQ(stats.last_update_time, clock.wallNow());
  }
  EXPECT_GE(records_checked, 7u);
}

// Three series of the same name on three pods; only the selectors and the pattern tell them apart.
struct TracedRequest {
  std::vector<TraceRecord> run(SeriesTracer& tracer) {
    cache::SnapshotBuilder builder;
    builder.addWorkloadPod({"test-1", "u1", "w", "wu", ""});
    builder.addWorkloadPod({"prod-1", "u2", "w", "wu", ""});
    const auto snapshot = builder.build();
    ::prompb::WriteRequest request;
    for (const char* pod : {"test-1", "prod-1", ""}) {
      auto* series = request.add_timeseries();
      for (const auto& [name, value] :
           testing::GoldenLabels{{"__name__", "gpu_util"}, {"pod", pod}, {"zone", "z1"}}) {
        auto* label = series->add_labels();
        label->set_name(name);
        label->set_value(value);
      }
      series->add_samples()->set_value(1);
    }
    prompb::OutputBuffer out;
    SeriesEnricher enricher(*snapshot, out);
    SeriesTracer::Session session = tracer.session();
    enricher.setObserver(&session);
    EXPECT_TRUE(ingest::decodeWriteRequest(request.SerializeAsString(),
                                           ingest::RemoteWriteVersion::kV1, enricher, nullptr)
                    .ok());
    session.commit();
    return tracer.records();
  }
};

std::vector<std::string> podsOf(const std::vector<TraceRecord>& records) {
  std::vector<std::string> pods;
  pods.reserve(records.size());
  for (const TraceRecord& record : records) pods.push_back(record.pod_name);
  return pods;
}

TEST(SeriesTracer, SelectorsAreExactNonEmptyOrGlob) {
  SeriesTracer tracer;
  ASSERT_TRUE(tracer.configure({.enabled = true, .label_selectors = {{"pod", "test-*"}}}).ok());
  EXPECT_EQ(podsOf(TracedRequest().run(tracer)), std::vector<std::string>{"test-1"});
  ASSERT_TRUE(tracer.configure({.enabled = true, .label_selectors = {{"pod", "prod-1"}}}).ok());
  EXPECT_EQ(podsOf(TracedRequest().run(tracer)), std::vector<std::string>{"prod-1"});
  ASSERT_TRUE(tracer.configure({.enabled = true, .label_selectors = {{"pod", "*"}}}).ok());
  EXPECT_EQ(podsOf(TracedRequest().run(tracer)), (std::vector<std::string>{"test-1", "prod-1"}));
  ASSERT_TRUE(tracer.configure({.enabled = true, .label_selectors = {{"pod", "?rod-?"}}}).ok());
  EXPECT_EQ(podsOf(TracedRequest().run(tracer)), std::vector<std::string>{"prod-1"});
}

TEST(SeriesTracer, PatternMatchesAnywhereInTheName) {
  SeriesTracer tracer;
  ASSERT_TRUE(tracer.configure({.enabled = true, .metric_pattern = "^gpu_"}).ok());
  EXPECT_EQ(TracedRequest().run(tracer).size(), 3u);
  ASSERT_TRUE(tracer.configure({.enabled = true, .metric_pattern = "util$"}).ok());
  EXPECT_EQ(TracedRequest().run(tracer).size(), 3u);
  ASSERT_TRUE(tracer.configure({.enabled = true, .metric_pattern = "^cpu"}).ok());
  EXPECT_TRUE(TracedRequest().run(tracer).empty());
  EXPECT_EQ(tracer.stats().total_matched, 0u);
}

TEST(SeriesTracer, FilteredSeriesSayWhy) {
  SeriesTracer tracer;
  ASSERT_TRUE(tracer.configure({.enabled = true, .label_selectors = {{"pod", ""}}}).ok());
  const std::vector<TraceRecord> records = TracedRequest().run(tracer);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].passed);
  EXPECT_TRUE(records[0].reason.starts_with("missing_pod_info: ")) << records[0].reason;
}

TEST(SeriesTracer, RingKeepsTheLatestRecords) {
  SeriesTracer tracer;
  ASSERT_TRUE(tracer.configure({.enabled = true, .max_records = 2}).ok());
  TracedRequest().run(tracer);
  const std::vector<TraceRecord> records = TracedRequest().run(tracer);
  EXPECT_EQ(podsOf(records), (std::vector<std::string>{"prod-1", ""}));
  EXPECT_EQ(tracer.stats().total_matched, 6u);
  EXPECT_EQ(tracer.stats().total_passed, 4u);
  tracer.clear();
  EXPECT_TRUE(tracer.records().empty());
  EXPECT_EQ(tracer.stats().total_matched, 0u);
  EXPECT_EQ(TracedRequest().run(tracer).size(), 2u);
}

TEST(SeriesTracer, DisableKeepsTheRecords) {
  SeriesTracer tracer;
  EXPECT_FALSE(tracer.enabled());
  ASSERT_TRUE(tracer.configure({.enabled = true, .metric_pattern = "gpu"}).ok());
  EXPECT_TRUE(tracer.enabled());
  TracedRequest().run(tracer);
  tracer.disable();
  EXPECT_FALSE(tracer.enabled());
  EXPECT_FALSE(tracer.config().enabled);
  EXPECT_EQ(tracer.config().metric_pattern, "gpu");
  EXPECT_EQ(tracer.records().size(), 3u);
}

TEST(SeriesTracer, ConcurrentRequestsAllCount) {
  SeriesTracer tracer;
  ASSERT_TRUE(tracer.configure({.enabled = true, .max_records = 50}).ok());
  constexpr int kThreads = 4;
  constexpr int kRequests = 25;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&tracer] {
      for (int i = 0; i < kRequests; ++i) TracedRequest().run(tracer);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const TraceStats stats = tracer.stats();
  EXPECT_EQ(stats.total_matched, uint64_t{kThreads} * kRequests * 3);
  EXPECT_EQ(stats.total_passed, uint64_t{kThreads} * kRequests * 2);
  EXPECT_EQ(tracer.records().size(), 50u);
}

TEST(SeriesTracer, RefusesBadConfigurations) {
  SeriesTracer tracer;
  const absl::Status pattern = tracer.configure({.enabled = true, .metric_pattern = "gpu_(util"});
  EXPECT_TRUE(absl::IsInvalidArgument(pattern));
  EXPECT_NE(pattern.message().find("metric_pattern"), std::string::npos) << pattern;
  EXPECT_TRUE(absl::IsInvalidArgument(tracer.configure({.enabled = true, .max_records = 0})));
  EXPECT_TRUE(absl::IsInvalidArgument(
      tracer.configure({.enabled = true, .max_records = kMaxTraceRecords + 1})));
  EXPECT_TRUE(
      absl::IsInvalidArgument(tracer.configure({.enabled = true, .label_selectors = {{"", "x"}}})));
  EXPECT_FALSE(tracer.enabled());  // a refused configuration changes nothing
}

}  // namespace
}  // namespace tp::enrich
