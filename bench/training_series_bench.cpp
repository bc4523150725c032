// The training series encoder on a training writer's batch: the performance lines of one
// bench/logs_batches.h batch (200 Primus HIP lines of 64 pods, 18 fields each), one row per
// workload of the pod (two), as the logs path stores them; 7 200 samples per batch.
//
//   taskset -c 1 build/release/bench/training_series_bench   (one core, release build)
//
// BM_EncodeBatch/lanes:N: parse each row's document, label and deduplicate its samples, check
// the budget and write each series into one of N lanes. items/s are rows; samples/s are samples
// written. allocs_per_batch counts operator new calls per batch once the encoder's buffers have
// grown and its series are known (the first batch, allocs_first_batch, is encoded before
// timing): it must be 0.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "logs_batches.h"
#include "telemetry/telemetry.h"
#include "training/performance_extractor.h"
#include "training/training_series.h"

namespace {

std::atomic<uint64_t> allocations{0};

}  // namespace

// Every allocation of the process is counted; the benchmark reads the count around its loop.
// Not inlined: GCC would otherwise pair the inlined free() with its own idea of operator new.
[[gnu::noinline]] void* operator new(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete(void* memory, size_t /*size*/) noexcept {
  std::free(memory);
}

namespace tp {
namespace {

std::vector<training::PendingPerformance> batchRows() {
  const training::PerformanceExtractor extractor;
  const std::vector<std::string> lines = bench::mixedLines();
  std::vector<training::PendingPerformance> rows;
  training::Performance performance;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (extractor.extract(lines[i], &performance) != training::LineKind::kPerformance) continue;
    rapidjson::StringBuffer buffer;
    common::JsonWriter writer(buffer);
    training::writePerformanceJson(writer, performance);
    const int pod = static_cast<int>(i % bench::kPods);
    for (const auto& [uid, name] : {std::pair{bench::kJobUid, "pretrain-llama-70b"},
                                    std::pair{bench::kRunUid, "pretrain-llama-70b-run1"}}) {
      training::PendingPerformance row;
      row.workload_uid = uid;
      row.nearest_workload_uid = bench::kRunUid;
      row.pod_uid = bench::podUid(pod);
      row.performance_json = buffer.GetString();
      row.iteration = static_cast<int64_t>(*performance[training::Field::kCurrentIteration]);
      row.time_us = 1761223152000000 + static_cast<int64_t>(i) * 1000;
      row.labels = {.workload_name = name,
                    .pod_name = bench::podName(pod),
                    .namespace_name = "team-llm",
                    .node = bench::nodeName(pod),
                    .rank = "63"};  // the lines' prefix: [rank-63/64]
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

void BM_EncodeBatch(benchmark::State& state) {
  const std::vector<training::PendingPerformance> rows = batchRows();
  std::vector<training::RowOfRun> of_run;
  for (const auto& row : rows) of_run.push_back({&row, 1});
  telemetry::Telemetry telemetry("bench");
  // Every series of the batch within budget: the cost measured is that of encoding them all.
  const config::TrainingSeriesConfig config{.max_per_workload = 10'000};
  training::TrainingSeriesEncoder encoder(config, telemetry.trainingSeriesMetrics());
  std::vector<prompb::OutputBuffer> lanes(static_cast<size_t>(state.range(0)));
  std::vector<size_t> lane_samples(lanes.size());
  const auto encodeOnce = [&] {
    for (prompb::OutputBuffer& lane : lanes) lane.clear();
    std::fill(lane_samples.begin(), lane_samples.end(), 0);
    encoder.encode(of_run, {}, lanes, lane_samples);
  };
  const uint64_t allocations_at_start = allocations.load();
  encodeOnce();  // buffers grow, series become known
  const uint64_t first_batch_allocations = allocations.load() - allocations_at_start;
  size_t samples = 0;
  size_t bytes = 0;
  const uint64_t allocations_before = allocations.load();
  for (auto _ : state) {
    encodeOnce();
    for (size_t lane = 0; lane < lanes.size(); ++lane) {
      samples += lane_samples[lane];
      bytes += lanes[lane].size();
    }
  }
  const uint64_t allocated = allocations.load() - allocations_before;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.size()));
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  state.counters["samples_per_batch"] =
      static_cast<double>(samples) / static_cast<double>(state.iterations());
  state.counters["bytes_per_sample"] = static_cast<double>(bytes) / static_cast<double>(samples);
  state.counters["allocs_first_batch"] = static_cast<double>(first_batch_allocations);
  state.counters["allocs_per_batch"] =
      static_cast<double>(allocated) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_EncodeBatch)->ArgName("lanes")->Arg(1)->Arg(4);

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
