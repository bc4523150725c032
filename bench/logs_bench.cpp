// The logs path per stage, on the batches of bench/logs_batches.h: Fluent Bit `format json`
// arrays of 1 000 records of about 900 bytes, 20 % Primus HIP performance lines.
//
//   taskset -c 1 build/release/bench/logs_bench   (one core, release build)
//
// The same batches over HTTP, through the whole processor: bench/logs_http.sh.
//
// BM_ExtractMixedLines: extraction alone. BM_ParseBatch: JSON parsing alone.
// BM_ParseAndExtractBatch: parsing and extraction of every record's message.
// BM_ParseExtractAndAnalyzeBatch/commit:0: parse, extraction, latency capture, attribution to
// workloads, the rows and events; /commit:1 adds the commit to the metrics (latency summary and
// histogram by node): what a request costs before the training writer.
// BM_LogsPathWithSeries: /commit:1 plus the journal record and the training series of the rows.
// BM_ParseAndExtractGzipBatch: the analyzer on a gzip-compressed batch, without commit.
// BM_DistinctHostsBatch/N: N short records, each from another host, through the analyzer and
// its commit to the metrics; items/s must not fall as N grows (per-node work is linear).

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "ingest/fluentbit/gzip.h"
#include "ingest/fluentbit/log_batch.h"
#include "logs_batches.h"
#include "support/compression.h"
#include "telemetry/telemetry.h"
#include "training/item_codec.h"
#include "training/log_batch_analyzer.h"
#include "training/performance_extractor.h"
#include "training/training_series.h"

namespace tp {
namespace {

void BM_ExtractMixedLines(benchmark::State& state) {
  const training::PerformanceExtractor extractor;
  const std::vector<std::string> lines = bench::mixedLines();
  training::Performance performance;
  size_t found = 0;
  for (auto _ : state) {
    for (const std::string& line : lines) {
      found += extractor.extract(line, &performance) == training::LineKind::kPerformance;
    }
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
}
BENCHMARK(BM_ExtractMixedLines);

class CountingSink : public ingest::LogRecordSink {
 public:
  void onRecord(const ingest::LogRecord& record) override { bytes += record.message.size(); }
  void onSkipped(size_t, ingest::SkipReason) override {}
  size_t bytes = 0;
};

std::string padded(const std::string& body) {
  return body + std::string(ingest::kLogBatchPadding, ' ');
}

void BM_ParseBatch(benchmark::State& state) {
  const std::string body = bench::fluentBitBatch();
  const std::string buffer = padded(body);
  CountingSink sink;
  for (auto _ : state) {
    const absl::Status status = ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                                                      ingest::LogBatchFormat::kJsonArray, {}, sink);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  benchmark::DoNotOptimize(sink.bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bench::kRecordsPerBatch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["record_bytes"] =
      static_cast<double>(body.size()) / static_cast<double>(bench::kRecordsPerBatch);
}
BENCHMARK(BM_ParseBatch);

int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs the extractor on every record, as the analyzer does, and nothing else.
class ExtractingSink : public ingest::LogRecordSink {
 public:
  explicit ExtractingSink(const training::PerformanceExtractor& extractor)
      : extractor_(extractor) {}
  void onRecord(const ingest::LogRecord& record) override {
    performance_lines +=
        extractor_.extract(record.message, &performance_) == training::LineKind::kPerformance;
  }
  void onSkipped(size_t, ingest::SkipReason) override {}
  size_t performance_lines = 0;

 private:
  const training::PerformanceExtractor& extractor_;
  training::Performance performance_;
};

void BM_ParseAndExtractBatch(benchmark::State& state) {
  const std::string body = bench::fluentBitBatch();
  const std::string buffer = padded(body);
  const training::PerformanceExtractor extractor;
  ExtractingSink sink(extractor);
  for (auto _ : state) {
    const absl::Status status = ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                                                      ingest::LogBatchFormat::kJsonArray, {}, sink);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bench::kRecordsPerBatch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["performance_lines_per_batch"] =
      static_cast<double>(sink.performance_lines) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ParseAndExtractBatch);

void BM_ParseExtractAndAnalyzeBatch(benchmark::State& state) {
  const bool commit = state.range(0) != 0;
  const std::string body = bench::fluentBitBatch();
  const std::string buffer = padded(body);
  const auto cluster = bench::batchCluster();
  const training::PerformanceExtractor extractor;
  telemetry::Telemetry telemetry("bench");
  telemetry::LogsMetrics metrics =
      telemetry.logsMetrics({ingest::kSkipReasonNames.begin(), ingest::kSkipReasonNames.end()},
                            extractor.formatNames(), 1'000);
  size_t rows = 0;
  for (auto _ : state) {
    training::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
    const absl::Status status =
        ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                              ingest::LogBatchFormat::kJsonArray, {}, analyzer);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    rows += analyzer.items().performances.size();
    if (commit) analyzer.commit(metrics);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bench::kRecordsPerBatch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["rows_per_batch"] =
      static_cast<double>(rows) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ParseExtractAndAnalyzeBatch)->ArgName("commit")->Arg(0)->Arg(1);

// The whole logs path of a batch, with training series on: parse, extraction, rows and events,
// the commit to the metrics, the journal record, and the series the writer encodes once the
// serials are known (the database round trips excluded: bench/training_write_bench.cpp).
void BM_LogsPathWithSeries(benchmark::State& state) {
  const std::string body = bench::fluentBitBatch();
  const std::string buffer = padded(body);
  const auto cluster = bench::batchCluster();
  const training::PerformanceExtractor extractor;
  telemetry::Telemetry telemetry("bench");
  telemetry::LogsMetrics metrics =
      telemetry.logsMetrics({ingest::kSkipReasonNames.begin(), ingest::kSkipReasonNames.end()},
                            extractor.formatNames(), 1'000);
  // Every pod of the batch logs performance lines: a budget above them all, so that every sample
  // is encoded rather than dropped.
  training::TrainingSeriesEncoder encoder(config::TrainingSeriesConfig{.max_per_workload = 100'000},
                                          telemetry.trainingSeriesMetrics());
  std::vector<prompb::OutputBuffer> lanes(1);
  std::vector<size_t> lane_samples(1);
  std::vector<training::RowOfRun> rows;
  std::string journal_record;
  size_t samples = 0;
  for (auto _ : state) {
    training::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
    const absl::Status status =
        ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                              ingest::LogBatchFormat::kJsonArray, {}, analyzer);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    analyzer.commit(metrics);
    training::encodeItems(analyzer.items(), journal_record);
    rows.clear();
    for (const training::PendingPerformance& row : analyzer.items().performances) {
      rows.push_back({&row, 1});
    }
    lanes[0].clear();
    lane_samples[0] = 0;
    encoder.encode(rows, {}, lanes, lane_samples);
    samples += lane_samples[0];
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bench::kRecordsPerBatch));
  state.counters["samples_per_batch"] =
      static_cast<double>(samples) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_LogsPathWithSeries);

void BM_ParseAndExtractGzipBatch(benchmark::State& state) {
  const std::string compressed = testing::gzipCompress(bench::fluentBitBatch());
  const auto cluster = bench::batchCluster();
  const training::PerformanceExtractor extractor;
  std::string inflated;
  for (auto _ : state) {
    auto size = ingest::inflateGzip(compressed, 64 << 20, ingest::kLogBatchPadding, inflated);
    training::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
    const absl::Status status = ingest::parseLogBatch(
        std::string_view(inflated.data(), *size), ingest::LogBatchFormat::kJsonArray, {}, analyzer);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bench::kRecordsPerBatch));
  state.counters["compressed_bytes"] = static_cast<double>(compressed.size());
}
BENCHMARK(BM_ParseAndExtractGzipBatch);

std::string distinctHostsBatch(int64_t records) {
  std::string body = "[";
  for (int64_t i = 0; i < records; ++i) {
    if (i != 0) body += ",";
    body += R"({"date":1761223152.5,"log":"loaded shard )" + std::to_string(i) +
            R"(","kubernetes":{"pod_name":"worker-0","namespace_name":"team-llm","pod_id":"uid-0",)"
            R"("host":"gpu-node-)" +
            std::to_string(i) + R"("}})";
  }
  return body + "]";
}

void BM_DistinctHostsBatch(benchmark::State& state) {
  const int64_t records = state.range(0);
  const std::string body = distinctHostsBatch(records);
  const std::string buffer = padded(body);
  const auto cluster = bench::batchCluster();
  const training::PerformanceExtractor extractor;
  telemetry::Telemetry telemetry("bench");
  telemetry::LogsMetrics metrics =
      telemetry.logsMetrics({ingest::kSkipReasonNames.begin(), ingest::kSkipReasonNames.end()},
                            extractor.formatNames(), 1'000);
  for (auto _ : state) {
    training::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
    const absl::Status status =
        ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                              ingest::LogBatchFormat::kJsonArray, {}, analyzer);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    analyzer.commit(metrics);
  }
  state.SetItemsProcessed(state.iterations() * records);
}
BENCHMARK(BM_DistinctHostsBatch)
    ->Arg(3'000)
    ->Arg(30'000)
    ->Arg(300'000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
