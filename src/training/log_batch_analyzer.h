#pragma once
// Turns the records of one Fluent Bit batch into what the logs path commits: latency
// observations by node, and StartTrain events, performance rows and lifecycle events for every
// workload of each record's pod (resolved against one cluster snapshot). Nothing leaves the
// analyzer until commit(), so a batch that later fails to parse leaves no trace.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cache/cluster_snapshot.h"
#include "ingest/fluentbit/log_batch.h"
#include "telemetry/telemetry.h"
#include "training/performance_extractor.h"
#include "training/training_items.h"

namespace tp::training {

class LogBatchAnalyzer : public ingest::LogRecordSink {
 public:
  LogBatchAnalyzer(const cache::ClusterSnapshot& snapshot, const PerformanceExtractor& extractor,
                   std::string_view client_address, int64_t now_us);
  // last_node_ points into latencies_.
  LogBatchAnalyzer(const LogBatchAnalyzer&) = delete;
  LogBatchAnalyzer& operator=(const LogBatchAnalyzer&) = delete;

  void onRecord(const ingest::LogRecord& record) override;
  void onSkipped(size_t index, ingest::SkipReason reason) override;

  // The rows and events to hand to the training writer.
  TrainingItems& items() { return items_; }
  // Lines each of the extractor's stored patterns matched (PerformanceExtractor::extract).
  std::span<const uint64_t> storedHits() const { return stored_hits_; }

  size_t records() const { return records_; }
  size_t skipped() const;

  // Adds this batch to the metrics; call once the batch is accepted.
  void commit(telemetry::LogsMetrics& metrics) const;

 private:
  using NodeLatencies = absl::flat_hash_map<std::string, std::vector<double>>;
  std::vector<double>& latenciesOf(std::string_view node);
  // Workloads of the record's pod and its nearest workload; false when unknown.
  bool resolve(const ingest::LogRecord& record, const cache::WorkloadList** workloads,
               const cache::WorkloadRef** nearest) const;
  void addPerformance(const ingest::LogRecord& record, const cache::WorkloadList& workloads,
                      const cache::WorkloadRef& nearest);
  void addLifecycle(const ingest::LogRecord& record, LifecycleKind kind,
                    const cache::WorkloadList& workloads, const cache::WorkloadRef& nearest);

  const cache::ClusterSnapshot& snapshot_;
  const PerformanceExtractor& extractor_;
  std::string_view client_address_;
  int64_t now_us_;

  TrainingItems items_;
  // Hash maps: a batch may name a new node (or format) on every record.
  NodeLatencies latencies_;
  // The entry found or inserted last; only an insertion moves entries, and it resets this.
  NodeLatencies::value_type* last_node_ = nullptr;
  Performance performance_;
  rapidjson::StringBuffer document_;  // a performance line's row document, reused

  size_t records_ = 0;
  std::array<size_t, static_cast<size_t>(ingest::SkipReason::kCount)> skipped_{};
  size_t no_kubernetes_ = 0;
  size_t own_pod_ = 0;
  size_t start_train_lines_ = 0;
  size_t performance_lines_ = 0;
  std::array<size_t, kLifecycleKindCount> lifecycle_lines_{};
  size_t event_streams_ = 0;
  size_t event_stream_errors_ = 0;
  size_t unattributed_ = 0;
  size_t bad_iteration_lines_ = 0;
  size_t iteration_beyond_column_lines_ = 0;
  absl::flat_hash_map<absl::string_view, size_t> pattern_hits_;
  std::vector<uint64_t> stored_hits_;
};

}  // namespace tp::training
