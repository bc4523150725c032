// One training-health check (training::HealthMonitor::check) against a real PostgreSQL on
// loopback, for a number of running runs, each with 512 rows logged every 10 s up to a minute
// ago: the lease, the runs' list, per run its newest rows (the first check reads 512 of them, the
// next ones 64), its checkpoint activity and events, and the goodput series of its workload. No
// run stalls, so the figure is the steady cost every replica pays each check interval.
//
//   build/release/bench/health_check_bench --benchmark_repetitions=5

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "storage/schema.h"
#include "storage/training_health.h"
#include "storage/training_rows.h"
#include "support/cluster_rows.h"
#include "support/database_servers.h"
#include "support/simulated_clock.h"
#include "telemetry/telemetry.h"
#include "training/health_monitor.h"

namespace tp {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int kRowsPerRun = 512;
constexpr int64_t kLastRowUs = 1761223200 * kSecond;

const std::string kDocument =
    R"({"current_iteration":400,"target_iteration":40000,"elapsed_time_per_iteration_ms":10000,)"
    R"("tflops":148.5,"tokens_per_gpu":246.7,"lm_loss":4.447942,"skipped_iterations_number":0,)"
    R"("nan_iterations_number":0})";

// The forwarder as the detector sees it, taking everything.
class DiscardingSink : public forward::BatchSink {
 public:
  absl::Status submit(std::span<const forward::LanePart>) override { return absl::OkStatus(); }
  size_t lanes() const override { return 1; }
};

std::vector<std::string_view> eventNames() {
  std::vector<std::string_view> names;
  for (auto type : storage::kHealthEventTypes) names.push_back(storage::nameOf(type));
  return names;
}

std::vector<std::string_view> stateNames() {
  std::vector<std::string_view> names;
  for (auto state : storage::kRunStates) names.push_back(storage::nameOf(state));
  return names;
}

bool insertRuns(storage::Database& database, int runs) {
  std::vector<storage::RunEvent> starts;
  std::vector<storage::PerformanceRow> rows;
  for (int run = 0; run < runs; ++run) {
    const std::string workload = "w-" + std::to_string(run);
    testing::insertWorkload(database, workload, workload, "", "Running");
    starts.push_back({.workload_uid = workload,
                      .nearest_workload_uid = workload + "-run1",
                      .pod_uid = "pod-" + std::to_string(run),
                      .run_serial = 1,
                      .time_us = kLastRowUs - (kRowsPerRun + 1) * 10 * kSecond});
    for (int i = 1; i <= kRowsPerRun; ++i) {
      rows.push_back({.workload_uid = workload,
                      .pod_uid = starts.back().pod_uid,
                      .performance_json = kDocument,
                      .iteration = i,
                      .serial = 1,
                      .time_us = kLastRowUs - (kRowsPerRun - i) * 10 * kSecond});
    }
  }
  return storage::insertStartTrainEvents(database, starts).ok() &&
         storage::insertPerformanceRows(database, rows).ok();
}

void BM_HealthCheck(benchmark::State& state) {
  const int runs = static_cast<int>(state.range(0));
  testing::PostgresServer server(/*tls=*/false, /*durable=*/true);
  auto database = storage::Database::create(server.dbConfig());
  if (!database.ok() || !storage::ensureSchema(**database, nullptr).ok() ||
      !insertRuns(**database, runs)) {
    state.SkipWithError("cannot prepare PostgreSQL");
    return;
  }
  testing::SimulatedClock clock{
      std::chrono::system_clock::time_point(std::chrono::microseconds(kLastRowUs + 60 * kSecond))};
  telemetry::Telemetry telemetry("bench");
  DiscardingSink sink;
  training::HealthMonitor monitor(**database, config::TrainingConfig{}, &sink, "bench",
                                  telemetry.trainingHealthMetrics(eventNames(), stateNames()),
                                  clock);
  // The first check reads every run's rows whole; the ones measured are the checks after it.
  const auto first = std::chrono::steady_clock::now();
  if (!monitor.check().ok()) {
    state.SkipWithError("the first check failed");
    return;
  }
  state.counters["first_check_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  for (auto _ : state) {
    if (!monitor.check().ok()) {
      state.SkipWithError("a check failed");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * runs);
}
BENCHMARK(BM_HealthCheck)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
