// One training-health check (training::HealthMonitor::check) against a real PostgreSQL on
// loopback, for a number of running runs, each with its rows logged every 10 s up to a minute
// ago: the lease, the runs' list, per run its newest rows (the first check reads up to 512 of
// them, the next ones 64), its checkpoint activity and events, and the goodput series of its
// workload. A long run has 512 rows. A young run (fewer than 512 rows) is the second of its
// workload, resumed after a first of 10 rows: each check also counts its rows and reads the
// first run's last iteration (the rewind rule). No run stalls, so the figure is the steady cost
// every replica pays each check interval.
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

// `runs` workloads, each running run `serial` with `rows_per_run` rows; run 1 of a workload whose
// running run is 2 has 10 rows before it.
bool insertRuns(storage::Database& database, int runs, int rows_per_run, int serial) {
  constexpr int kFirstRunRows = 10;
  std::vector<storage::RunEvent> starts;
  std::vector<storage::PerformanceRow> rows;
  const auto addRun = [&](const std::string& workload, int run_serial, int first, int count,
                          int64_t last_us) {
    starts.push_back({.workload_uid = workload,
                      .nearest_workload_uid = workload + "-run" + std::to_string(run_serial),
                      .pod_uid = workload + "-pod",
                      .run_serial = run_serial,
                      .time_us = last_us - count * 10 * kSecond});
    for (int i = 0; i < count; ++i) {
      rows.push_back({.workload_uid = workload,
                      .pod_uid = starts.back().pod_uid,
                      .performance_json = kDocument,
                      .iteration = first + i,
                      .serial = run_serial,
                      .time_us = last_us - (count - 1 - i) * 10 * kSecond});
    }
  };
  for (int run = 0; run < runs; ++run) {
    const std::string workload = "w-" + std::to_string(run);
    testing::insertWorkload(database, workload, workload, "", "Running");
    if (serial == 2) {
      addRun(workload, 1, 1, kFirstRunRows, kLastRowUs - (rows_per_run + 30) * 10 * kSecond);
    }
    addRun(workload, serial, serial == 2 ? kFirstRunRows + 1 : 1, rows_per_run, kLastRowUs);
  }
  return storage::insertStartTrainEvents(database, starts).ok() &&
         storage::insertPerformanceRows(database, rows).ok();
}

void BM_HealthCheck(benchmark::State& state) {
  const int runs = static_cast<int>(state.range(0));
  const int rows_per_run = static_cast<int>(state.range(1));
  const int serial = static_cast<int>(state.range(2));
  testing::PostgresServer server(/*tls=*/false, /*durable=*/true);
  auto database = storage::Database::create(server.dbConfig());
  if (!database.ok() || !storage::ensureSchema(**database, nullptr).ok() ||
      !insertRuns(**database, runs, rows_per_run, serial)) {
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
// Long runs; young runs resumed after a first one.
BENCHMARK(BM_HealthCheck)
    ->ArgNames({"runs", "rows", "serial"})
    ->Args({100, 512, 1})
    ->Args({100, 200, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
