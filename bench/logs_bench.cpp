// The logs path per stage, on a mix like a training pod's output: 20 % Primus HIP performance
// lines, 80 % other log lines of similar length. Batches are Fluent Bit `format json` arrays of
// 1 000 records of about 900 bytes (message + Kubernetes metadata), as the http output posts.
//
//   build/release/bench/logs_bench
//
// BM_ExtractMixedLines: extraction alone. BM_ParseBatch: JSON parsing alone.
// BM_ParseAndExtractBatch: what a request costs before the database: parse, latency capture,
// extraction, attribution to workloads, the row documents. ...Gzip: the same, gzip-compressed.
// BM_DistinctHostsBatch/N: N short records, each from another host, through the analyzer and
// its commit to the metrics; items/s must not fall as N grows (per-node work is linear).

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "cache/cluster_snapshot.h"
#include "ingest/fluentbit/gzip.h"
#include "ingest/fluentbit/log_batch.h"
#include "logs/log_batch_analyzer.h"
#include "support/compression.h"
#include "telemetry/telemetry.h"
#include "training/performance_extractor.h"

namespace tp {
namespace {

std::vector<std::string> mixedLines() {
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) {
    if (i % 5 == 0) {
      lines.push_back(
          "\x1b[32m20251023 12:39:12\x1b[0m][\x1b[36mrank-63/64\x1b[0m][\x1b[1mINFO \x1b[0m] "
          "\x1b[1m[--------trainer.py:2382] :  iteration      " +
          std::to_string(400 + i) +
          "/   40000 | consumed samples:        27136 | elapsed time per iteration (ms): "
          "16601.3/17219.3 | hip mem usage/free/total/usage_ratio: 253.38GB/2.60GB/255.98GB/98.98% "
          "| throughput per GPU (TFLOP/s/GPU): 11.9/11.5 | tokens per GPU (tokens/s/GPU): "
          "246.7/238.1 | learning rate: 9.997254E-06 | global batch size:    64 | lm loss: "
          "4.447942E+00 | loss scale: 1.0 | grad norm: 6.142 | num zeros: 960902016.0 | number of "
          "skipped iterations:   0 | number of nan iterations:   0 |\x1b[0m");
    } else {
      lines.push_back("[20251023 12:39:12][rank-" + std::to_string(i % 64) +
                      "/64][INFO ] [--------data_loader.py:120] : loaded shard " +
                      std::to_string(i) +
                      " of the training dataset from /mnt/data/tokens/shard-000123.bin "
                      "(4096 sequences, 8192 tokens each) in 0.42 s; prefetch queue depth 8, "
                      "pinned memory on, workers 16");
    }
  }
  return lines;
}

void BM_ExtractMixedLines(benchmark::State& state) {
  const training::PerformanceExtractor extractor;
  const std::vector<std::string> lines = mixedLines();
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

constexpr int kPods = 64;

std::string jsonEscaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\x1b') {
      out += "\\u001b";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A Fluent Bit batch with the kubernetes filter's metadata on every record.
std::string fluentBitBatch() {
  std::string body = "[";
  const std::vector<std::string> lines = mixedLines();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string pod = std::to_string(i % kPods);
    if (i != 0) body += ",";
    body +=
        R"({"date":1761223152.)" + std::to_string(100000 + i) +
        R"(,"stream":"stdout","logtag":"F","log":")" + jsonEscaped(lines[i]) +
        R"(","kubernetes":{"pod_name":"pretrain-llama-70b-worker-)" + pod +
        R"(","namespace_name":"team-llm","pod_id":"9f1c2b3a-0000-4000-8000-0000000000)" + pod +
        R"(","labels":{"training.kubeflow.org/job-name":"pretrain-llama-70b",)"
        R"("training.kubeflow.org/replica-type":"worker"},"host":"gpu-node-)" +
        pod +
        R"(","container_name":"pytorch","docker_id":"3f5e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",)"
        R"("container_hash":"registry.local/primus@sha256:0123456789abcdef",)"
        R"("container_image":"registry.local/primus:v0.4.0"}})";
  }
  return body + "]";
}

std::shared_ptr<const cache::ClusterSnapshot> snapshot() {
  cache::SnapshotBuilder builder;
  for (int pod = 0; pod < kPods; ++pod) {
    const std::string name = "pretrain-llama-70b-worker-" + std::to_string(pod);
    const std::string uid = "9f1c2b3a-0000-4000-8000-0000000000" + std::to_string(pod);
    builder.addWorkloadPod({name, uid, "pretrain-llama-70b", "w-job", ""});
    builder.addWorkloadPod({name, uid, "pretrain-llama-70b-run1", "w-run1", "w-job"});
  }
  return builder.build();
}

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
  const std::string body = fluentBitBatch();
  const std::string buffer = padded(body);
  CountingSink sink;
  for (auto _ : state) {
    const absl::Status status = ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                                                      ingest::LogBatchFormat::kJsonArray, {}, sink);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  benchmark::DoNotOptimize(sink.bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["record_bytes"] = static_cast<double>(body.size()) / 1000;
}
BENCHMARK(BM_ParseBatch);

int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void BM_ParseAndExtractBatch(benchmark::State& state) {
  const std::string body = fluentBitBatch();
  const std::string buffer = padded(body);
  const auto cluster = snapshot();
  const training::PerformanceExtractor extractor;
  size_t rows = 0;
  for (auto _ : state) {
    logs::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
    const absl::Status status =
        ingest::parseLogBatch(std::string_view(buffer.data(), body.size()),
                              ingest::LogBatchFormat::kJsonArray, {}, analyzer);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    rows += analyzer.items().performances.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["rows_per_batch"] =
      static_cast<double>(rows) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ParseAndExtractBatch);

void BM_ParseAndExtractGzipBatch(benchmark::State& state) {
  const std::string compressed = testing::gzipCompress(fluentBitBatch());
  const auto cluster = snapshot();
  const training::PerformanceExtractor extractor;
  std::string inflated;
  for (auto _ : state) {
    auto size = ingest::inflateGzip(compressed, 64 << 20, ingest::kLogBatchPadding, inflated);
    logs::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
    const absl::Status status = ingest::parseLogBatch(
        std::string_view(inflated.data(), *size), ingest::LogBatchFormat::kJsonArray, {}, analyzer);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
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
  const auto cluster = snapshot();
  const training::PerformanceExtractor extractor;
  telemetry::Telemetry telemetry("bench");
  telemetry::LogsMetrics metrics =
      telemetry.logsMetrics({ingest::kSkipReasonNames.begin(), ingest::kSkipReasonNames.end()},
                            extractor.formatNames(), 1'000);
  for (auto _ : state) {
    logs::LogBatchAnalyzer analyzer(*cluster, extractor, "10.0.0.1", nowMicros());
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
