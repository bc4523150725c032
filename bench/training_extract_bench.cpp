// Training-log extraction alone (no JSON parsing), on a mix like a training pod's output:
// 20 % Primus HIP performance lines, 80 % other log lines of similar length.
//
//   build/release/bench/training_extract_bench

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

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

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
