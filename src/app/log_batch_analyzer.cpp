#include "app/log_batch_analyzer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tp::app {

LogBatchAnalyzer::LogBatchAnalyzer(const cache::ClusterSnapshot& snapshot,
                                   const training::PerformanceExtractor& extractor,
                                   std::string_view client_address, int64_t now_us)
    : snapshot_(snapshot),
      extractor_(extractor),
      client_address_(client_address),
      now_us_(now_us) {}

LogBatchAnalyzer::NodeLatencies& LogBatchAnalyzer::latenciesOf(std::string_view node) {
  // A batch comes from one Fluent Bit, usually one node: try the last one first.
  if (last_node_ < latencies_.size() && latencies_[last_node_].node == node) {
    return latencies_[last_node_];
  }
  for (size_t i = 0; i < latencies_.size(); ++i) {
    if (latencies_[i].node == node) {
      last_node_ = i;
      return latencies_[i];
    }
  }
  last_node_ = latencies_.size();
  return latencies_.emplace_back(NodeLatencies{std::string(node), {}});
}

bool LogBatchAnalyzer::resolve(const ingest::LogRecord& record,
                               const cache::WorkloadList** workloads,
                               const cache::WorkloadRef** nearest) const {
  if (record.pod_uid.empty()) return false;
  *workloads = snapshot_.workloadsOfPodUid(record.pod_uid);
  *nearest = snapshot_.nearestWorkloadOfPod(record.pod_uid);
  return *workloads != nullptr && !(*workloads)->empty() && *nearest != nullptr;
}

void LogBatchAnalyzer::onRecord(const ingest::LogRecord& record) {
  ++records_;
  const double latency = static_cast<double>(std::max<int64_t>(0, now_us_ - record.time_us)) / 1e6;
  latenciesOf(record.host.empty() ? client_address_ : record.host).seconds.push_back(latency);
  if (!record.has_kubernetes) {
    ++no_kubernetes_;
    return;
  }
  if (record.pod_name.find(kOwnPodMarker) != std::string_view::npos) {
    ++own_pod_;
    return;
  }
  const training::LineKind kind = extractor_.extract(record.message, &performance_);
  if (kind == training::LineKind::kNone) return;

  const cache::WorkloadList* workloads = nullptr;
  const cache::WorkloadRef* nearest = nullptr;
  const bool attributed = resolve(record, &workloads, &nearest);
  if (!attributed) ++unattributed_;
  if (kind == training::LineKind::kStartTrain) {
    ++start_train_lines_;
    if (!attributed) {
      ++event_stream_errors_;
      return;
    }
    for (const cache::WorkloadRef* workload : *workloads) {
      items_.starts.push_back(
          {workload->uid, nearest->uid, std::string(record.pod_uid), record.time_us});
      ++event_streams_;
    }
    return;
  }
  ++performance_lines_;
  auto hit = std::find_if(pattern_hits_.begin(), pattern_hits_.end(),
                          [this](const auto& entry) { return entry.first == performance_.format; });
  if (hit == pattern_hits_.end()) {
    pattern_hits_.emplace_back(performance_.format, 1);
  } else {
    ++hit->second;
  }
  const double iteration_value = *performance_[training::Field::kCurrentIteration];
  if (!attributed || !std::isfinite(iteration_value) || std::fabs(iteration_value) > 2e9) return;
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  training::writePerformanceJson(writer, performance_);
  const auto iteration = static_cast<int64_t>(iteration_value);
  for (const cache::WorkloadRef* workload : *workloads) {
    items_.performances.push_back({workload->uid, nearest->uid, std::string(record.pod_uid),
                                   std::string(buffer.GetString(), buffer.GetSize()), iteration,
                                   record.time_us});
  }
}

void LogBatchAnalyzer::onSkipped(size_t /*index*/, ingest::SkipReason reason) {
  ++skipped_[static_cast<size_t>(reason)];
}

size_t LogBatchAnalyzer::skipped() const {
  return std::accumulate(skipped_.begin(), skipped_.end(), size_t{0});
}

void LogBatchAnalyzer::commit(telemetry::LogsMetrics& metrics) const {
  for (const NodeLatencies& node : latencies_) {
    const telemetry::LogLatencyMetrics::Series series = metrics.latency->forNode(node.node);
    for (double seconds : node.seconds) {
      series.summary->Observe(seconds);
      series.histogram->Observe(seconds);
    }
  }
  const auto add = [](prometheus::Counter* counter, size_t value) {
    if (value != 0) counter->Increment(static_cast<double>(value));
  };
  add(metrics.records_received, records_);
  for (size_t i = 0; i < skipped_.size(); ++i) add(metrics.records_skipped[i], skipped_[i]);
  add(metrics.not_analysed_no_kubernetes, no_kubernetes_);
  add(metrics.not_analysed_own_pod, own_pod_);
  add(metrics.start_train_lines, start_train_lines_);
  add(metrics.performance_lines, performance_lines_);
  add(metrics.event_streams, event_streams_);
  add(metrics.event_stream_errors, event_stream_errors_);
  add(metrics.unattributed_lines, unattributed_);
  for (const auto& [format, count] : pattern_hits_) {
    if (auto counter = metrics.pattern_hits.find(std::string(format));
        counter != metrics.pattern_hits.end()) {
      add(counter->second, count);
    }
  }
}

}  // namespace tp::app
