#include "training/log_batch_analyzer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numeric>

#include "common/product.h"
#include "common/strings.h"

namespace tp::training {

LogBatchAnalyzer::LogBatchAnalyzer(const cache::ClusterSnapshot& snapshot,
                                   const PerformanceExtractor& extractor,
                                   std::string_view client_address, int64_t now_us)
    : snapshot_(snapshot),
      extractor_(extractor),
      client_address_(client_address),
      now_us_(now_us),
      stored_hits_(extractor.storedCount(), 0) {}

std::vector<double>& LogBatchAnalyzer::latenciesOf(std::string_view node) {
  // A batch comes from one Fluent Bit, usually one node: try the last one first.
  if (last_node_ == nullptr || last_node_->first != node) {
    last_node_ = &*latencies_.try_emplace(common::toAbsl(node)).first;
  }
  return last_node_->second;
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
  latenciesOf(record.host.empty() ? client_address_ : record.host).push_back(latency);
  if (!record.has_kubernetes) {
    ++no_kubernetes_;
    return;
  }
  // The processor's own pods are not analysed: its own logs would loop.
  if (record.pod_name.find(common::kProcessorName) != std::string_view::npos) {
    ++own_pod_;
    return;
  }
  bool bad_iteration = false;
  const training::LineKind kind =
      extractor_.extract(record.message, &performance_, &bad_iteration, stored_hits_);
  bad_iteration_lines_ += bad_iteration;
  if (kind == training::LineKind::kNone) return;

  const cache::WorkloadList* workloads = nullptr;
  const cache::WorkloadRef* nearest = nullptr;
  const bool attributed = resolve(record, &workloads, &nearest);
  if (!attributed) ++unattributed_;
  switch (kind) {
    case LineKind::kNone:
      return;
    case LineKind::kStartTrain:
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
    case LineKind::kPerformance:
      ++performance_lines_;
      ++pattern_hits_[common::toAbsl(performance_.format)];
      if (attributed) addPerformance(record, *workloads, *nearest);
      return;
    case LineKind::kEndTrain:
      if (attributed) addLifecycle(record, LifecycleKind::kEnd, *workloads, *nearest);
      ++lifecycle_lines_[lifecycleIndex(LifecycleKind::kEnd)];
      return;
    case LineKind::kCheckpointSaveStart:
    case LineKind::kCheckpointSaveEnd:
    case LineKind::kCheckpointLoadStart:
    case LineKind::kCheckpointLoadEnd: {
      const LifecycleKind lifecycle =
          kind == LineKind::kCheckpointSaveStart   ? LifecycleKind::kCheckpointSaveStart
          : kind == LineKind::kCheckpointSaveEnd   ? LifecycleKind::kCheckpointSaveEnd
          : kind == LineKind::kCheckpointLoadStart ? LifecycleKind::kCheckpointLoadStart
                                                   : LifecycleKind::kCheckpointLoadEnd;
      if (attributed) addLifecycle(record, lifecycle, *workloads, *nearest);
      ++lifecycle_lines_[lifecycleIndex(lifecycle)];
      return;
    }
  }
}

namespace {

SeriesLabels seriesLabels(const ingest::LogRecord& record, const cache::WorkloadRef& workload) {
  return {workload.name, std::string(record.pod_name), std::string(record.namespace_name),
          std::string(record.host), std::string(rankOf(record.message))};
}

}  // namespace

void LogBatchAnalyzer::addPerformance(const ingest::LogRecord& record,
                                      const cache::WorkloadList& workloads,
                                      const cache::WorkloadRef& nearest) {
  // Set on every performance line, yet checked rather than trusted; the column holds 32 bits.
  const std::optional<double>& iteration_value = performance_[training::Field::kCurrentIteration];
  if (!iteration_value || !std::isfinite(*iteration_value)) return;
  if (std::fabs(*iteration_value) > std::numeric_limits<int32_t>::max()) {
    ++iteration_beyond_column_lines_;
    return;
  }
  document_.Clear();
  common::JsonWriter writer(document_);
  training::writePerformanceJson(writer, performance_);
  const std::string_view document(document_.GetString(), document_.GetSize());
  const auto iteration = static_cast<int64_t>(*iteration_value);
  for (const cache::WorkloadRef* workload : workloads) {
    items_.performances.push_back({workload->uid, nearest.uid, std::string(record.pod_uid),
                                   std::string(document), iteration, record.time_us,
                                   seriesLabels(record, *workload)});
  }
}

void LogBatchAnalyzer::addLifecycle(const ingest::LogRecord& record, LifecycleKind kind,
                                    const cache::WorkloadList& workloads,
                                    const cache::WorkloadRef& nearest) {
  const LifecycleDetails& details = performance_.lifecycle;
  // checkpoint_event.iteration holds 32 bits, like training_performance's.
  if (details.iteration && std::llabs(*details.iteration) > std::numeric_limits<int32_t>::max()) {
    ++iteration_beyond_column_lines_;
    return;
  }
  for (const cache::WorkloadRef* workload : workloads) {
    items_.lifecycles.push_back({workload->uid, nearest.uid, std::string(record.pod_uid), kind,
                                 details.iteration, details.path, details.duration_ms,
                                 record.time_us, seriesLabels(record, *workload)});
  }
}

void LogBatchAnalyzer::onSkipped(size_t /*index*/, ingest::SkipReason reason) {
  ++skipped_[static_cast<size_t>(reason)];
}

size_t LogBatchAnalyzer::skipped() const {
  return std::accumulate(skipped_.begin(), skipped_.end(), size_t{0});
}

void LogBatchAnalyzer::commit(telemetry::LogsMetrics& metrics) const {
  // Nodes beyond the label cap share node="other": each series gets its latencies at once.
  struct Pending {
    telemetry::LogLatencyMetrics::Series series;
    std::vector<double> seconds;
  };
  absl::flat_hash_map<const prometheus::Summary*, Pending> by_series;
  for (const auto& [node, latencies] : latencies_) {
    const telemetry::LogLatencyMetrics::Series series = metrics.latency->forNode(node);
    std::vector<double>& seconds =
        by_series.try_emplace(series.summary, Pending{series, {}}).first->second.seconds;
    seconds.insert(seconds.end(), latencies.begin(), latencies.end());
  }
  for (auto& [summary, pending] : by_series) pending.series.observe(pending.seconds);
  const auto add = [](prometheus::Counter* counter, size_t value) {
    if (value != 0) counter->Increment(static_cast<double>(value));
  };
  add(metrics.records_received, records_);
  for (size_t i = 0; i < skipped_.size(); ++i) add(metrics.records_skipped[i], skipped_[i]);
  add(metrics.not_analysed_no_kubernetes, no_kubernetes_);
  add(metrics.not_analysed_own_pod, own_pod_);
  add(metrics.start_train_lines, start_train_lines_);
  add(metrics.performance_lines, performance_lines_);
  for (size_t i = 0; i < lifecycle_lines_.size() && i < metrics.lifecycle_lines.size(); ++i) {
    add(metrics.lifecycle_lines[i], lifecycle_lines_[i]);
  }
  add(metrics.event_streams, event_streams_);
  add(metrics.event_stream_errors, event_stream_errors_);
  add(metrics.unattributed_lines, unattributed_);
  add(metrics.bad_iteration_lines, bad_iteration_lines_);
  add(metrics.iteration_beyond_column_lines, iteration_beyond_column_lines_);
  for (const auto& [format, count] : pattern_hits_) {
    if (auto counter = metrics.pattern_hits.find(format); counter != metrics.pattern_hits.end()) {
      add(counter->second, count);
    }
  }
}

}  // namespace tp::training
