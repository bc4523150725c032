// training_performance rows per second into a real PostgreSQL on loopback (fsync on, as
// deployed), through the training writer as the logs path uses it: requests submit rows for two
// workloads of a pod into the row journal, the writer reads it back, assigns serials and writes
// multi-row insert-if-absent statements
// (training.batchRows per statement). Each iteration submits 20 000 new rows in requests of
// 200 and waits until the last is in the database.
//
//   build/release/bench/training_write_bench --benchmark_min_time=5

#include <benchmark/benchmark.h>

#include <chrono>
#include <thread>

#include "soci/soci.h"
#include "storage/schema.h"
#include "support/database_servers.h"
#include "support/temp_dir.h"
#include "telemetry/telemetry.h"
#include "training/training_writer.h"

namespace tp {
namespace {

constexpr int kRowsPerIteration = 20'000;
constexpr int kRowsPerRequest = 200;

const std::string kDocument =
    R"({"current_iteration":400,"target_iteration":40000,"consumed_samples":27136,)"
    R"("elapsed_time_per_iteration_ms":16601.3,"mem_usages":253.38,"mem_free":2.6,)"
    R"("mem_total":255.98,"mem_usage_ratio":98.98,"tflops":11.9,"tokens_per_gpu":246.7,)"
    R"("learning_rate":9.997254e-06,"global_batch_size":64,"lm_loss":4.447942,)"
    R"("loss_scale":1.0,"grad_norm":6.142,"num_zeros":960902016.0,)"
    R"("skipped_iterations_number":0,"nan_iterations_number":0})";

void BM_WritePerformanceRows(benchmark::State& state) {
  testing::PostgresServer server(/*tls=*/false, /*durable=*/true);
  auto database = storage::Database::create(server.dbConfig());
  if (!database.ok() || !storage::ensureSchema(**database, nullptr).ok()) {
    state.SkipWithError("cannot prepare PostgreSQL");
    return;
  }
  config::TrainingConfig config;
  config.batch_rows = static_cast<int>(state.range(0));
  config.flush_interval = std::chrono::milliseconds(5);
  telemetry::Telemetry telemetry("bench");
  testing::TempDir journal_dir("tp-journal-");
  auto created = training::TrainingWriter::create(
      **database, config,
      queue::DiskQueueOptions{.dir = journal_dir.path() / "journal",
                              .max_bytes = config::QueueConfig{}.max_disk_usage},
      journal_dir.path() / "rejected.jsonl", telemetry.trainingWriteMetrics());
  if (!created.ok()) {
    state.SkipWithError("cannot open the row journal");
    return;
  }
  training::TrainingWriter& writer = **created;
  writer.start();
  int64_t iteration = 0;
  for (auto _ : state) {
    for (int request = 0; request < kRowsPerIteration / kRowsPerRequest; ++request) {
      training::TrainingItems items;
      for (int row = 0; row < kRowsPerRequest / 2; ++row, ++iteration) {
        for (const char* workload : {"w-job", "w-run1"}) {
          items.performances.push_back(
              {workload, "w-run1", "pod-0", kDocument, iteration, 1761223152000000 + iteration});
        }
      }
      while (!writer.submit(items).ok()) std::this_thread::yield();
    }
    while (writer.pending() > 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  writer.stop(std::chrono::seconds(10));
  long long stored = 0;
  (void)(*database)->run([&](soci::session& sql) {
    sql << "SELECT count(*) FROM training_performance", soci::into(stored);
  });
  if (stored != 2 * iteration) state.SkipWithError("rows missing from the database");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRowsPerIteration);
}
BENCHMARK(BM_WritePerformanceRows)
    ->Arg(100)
    ->Arg(500)
    ->Arg(2000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
