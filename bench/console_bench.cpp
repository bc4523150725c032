// The web console's answers at the scale the console must hold: a cluster of 80 000 pods
// (10 000 nodes of 8 GPUs, 2 000 workloads of 40 pods), 2 000 training runs, and a run of
// 100 000 iterations, on the embedded default (SQLite). Each benchmark serves one request
// through the processor's own route handler and reports the answer's size (answer_bytes).
//
//   build/release/bench/console_bench --benchmark_repetitions=5

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "app/training_api.h"
#include "cache/cluster_snapshot.h"
#include "common/json_writer.h"
#include "console/cache_search.h"
#include "console/overview_api.h"
#include "console/run_chart.h"
#include "http/router.h"
#include "storage/schema.h"
#include "storage/training_rows.h"
#include "support/cluster_rows.h"
#include "support/temp_dir.h"
#include "telemetry/rate_ring.h"
#include "telemetry/telemetry.h"

namespace tp {
namespace {

constexpr int kNodes = 10'000;
constexpr int kGpusPerNode = 8;
constexpr int kPodsPerWorkload = 40;
constexpr int kRuns = 2'000;
constexpr int kLongRunIterations = 100'000;
constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kStartUs = 1761223200 * kSecond;

std::shared_ptr<const cache::ClusterSnapshot> largeCluster() {
  cache::SnapshotBuilder builder;
  int pod = 0;
  for (int node = 0; node < kNodes; ++node) {
    for (int gpu = 0; gpu < kGpusPerNode; ++gpu, ++pod) {
      const std::string name = "pod-" + std::to_string(pod);
      const std::string uid = "uid-" + std::to_string(pod);
      builder.addDevice({"node-" + std::to_string(node), name, uid, "gpu", "card", gpu});
      const std::string workload = std::to_string(pod / kPodsPerWorkload);
      builder.addWorkloadPod({name, uid, "job-" + workload, "w-" + workload, ""});
    }
  }
  return builder.build();
}

size_t searchBytes(const console::SnapshotIndex& index, const console::CacheQuery& query) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  index.write(writer, query);
  writer.EndObject();
  return buffer.GetSize();
}

void BM_CacheSearchIndexBuild(benchmark::State& state) {
  const auto snapshot = largeCluster();
  for (auto _ : state) {
    console::SnapshotIndex index(snapshot);
    benchmark::DoNotOptimize(index);
  }
}
BENCHMARK(BM_CacheSearchIndexBuild)->Unit(benchmark::kMillisecond);

// The largest page: 200 results.
void BM_CacheSearchPage(benchmark::State& state) {
  const console::SnapshotIndex index(largeCluster());
  const auto by = static_cast<console::SearchBy>(state.range(0));
  const console::CacheQuery query{.by = by, .prefix = "", .after = "", .limit = 200};
  size_t bytes = 0;
  for (auto _ : state) bytes = searchBytes(index, query);
  state.counters["answer_bytes"] = static_cast<double>(bytes);
  state.SetLabel(std::string(console::kSearchByNames[static_cast<size_t>(by)]));
}
BENCHMARK(BM_CacheSearchPage)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// One database for the training answers: 2 000 runs of 10 rows each, and one run of 100 000.
struct TrainingDatabase {
  TrainingDatabase() {
    config::DbConfig config;
    config.path = (dir / "lens.db").string();
    database = std::move(*storage::Database::create(config));
    (void)storage::ensureSchema(*database, nullptr);
    std::vector<storage::RunEvent> starts;
    std::vector<storage::PerformanceRow> rows;
    for (int run = 0; run < kRuns; ++run) {
      const std::string workload = "w-" + std::to_string(run);
      testing::insertWorkload(*database, "job-" + std::to_string(run), workload, "", "Running");
      starts.push_back({workload, workload, "pod-0", 1, kStartUs});
      for (int i = 1; i <= 10; ++i) {
        rows.push_back({workload, "pod-0", R"({"current_iteration":1,"lm_loss":2.5})", i, 1,
                        kStartUs + i * kSecond});
      }
    }
    (void)storage::insertStartTrainEvents(*database, starts);
    insert(rows);
    rows.clear();
    for (int i = 1; i <= kLongRunIterations; ++i) {
      rows.push_back({"w-0", "pod-0",
                      R"({"current_iteration":)" + std::to_string(i) +
                          R"(,"elapsed_time_per_iteration_ms":812.4,"mem_usages":120.5,)"
                          R"("tflops":301.2,"tokens_per_gpu":8042.1,"learning_rate":2e-05,)"
                          R"("lm_loss":3.118204})",
                      i, 2, kStartUs + i * kSecond});
    }
    const storage::RunEvent second{"w-0", "w-0-run2", "pod-0", 2, kStartUs};
    (void)storage::insertStartTrainEvents(*database, std::span(&second, 1));
    insert(rows);
    app::addTrainingRoutes(router, *database);
    console::addRunChartRoute(router, *database);
  }

  void insert(const std::vector<storage::PerformanceRow>& rows) {
    for (size_t first = 0; first < rows.size(); first += 1000) {
      (void)storage::insertPerformanceRows(
          *database, std::span(rows).subspan(first, std::min<size_t>(1000, rows.size() - first)));
    }
  }

  http::Response get(const std::string& target) {
    const http::Request request{http::beast_http::verb::get, target, 11};
    const http::Router::Match match = router.match(request.method(), target);
    return match.route->handler({request, match.path, "127.0.0.1", match.parameters});
  }

  testing::TempDir dir;
  std::unique_ptr<storage::Database> database;
  telemetry::Telemetry telemetry{"bench"};
  http::Router router{telemetry};
};

TrainingDatabase& trainingDatabase() {
  static TrainingDatabase database;
  return database;
}

void serve(benchmark::State& state, const std::string& target) {
  TrainingDatabase& database = trainingDatabase();
  size_t bytes = 0;
  for (auto _ : state) {
    const http::Response response = database.get(target);
    if (response.result_int() != 200) state.SkipWithError(response.body().c_str());
    bytes = response.body().size();
  }
  state.counters["answer_bytes"] = static_cast<double>(bytes);
}

void BM_RunsPage(benchmark::State& state) {
  serve(state, "/training/runs?limit=" + std::to_string(state.range(0)));
}
BENCHMARK(BM_RunsPage)->Arg(50)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_RunsFilteredByName(benchmark::State& state) {
  serve(state, "/training/runs?limit=50&q=job-19");
}
BENCHMARK(BM_RunsFilteredByName)->Unit(benchmark::kMillisecond);

void BM_RunChart(benchmark::State& state) {
  serve(state, "/ui/api/training/w-0/chart?run=2&points=" + std::to_string(state.range(0)));
}
BENCHMARK(BM_RunChart)->Arg(800)->Arg(2000)->Unit(benchmark::kMillisecond);

// The overview with every flow of a full 15-minute ring.
void BM_Overview(benchmark::State& state) {
  telemetry::Telemetry telemetry("bench");
  (void)telemetry.remoteWriteMetrics({"no_pod", "no_workload", "negative_value", "no_metric_name"});
  (void)telemetry.logsMetrics({"invalid_date", "wrong_type", "not_an_object"}, {"megatron"}, 100,
                              {"EndTrain"});
  (void)telemetry.trainingWriteMetrics();
  for (int endpoint = 0; endpoint < 4; ++endpoint) {
    (void)telemetry.endpointMetrics("http://storage-" + std::to_string(endpoint) + "/api/v1/write");
  }
  telemetry::RateRing ring(telemetry::overviewFlows());
  for (int64_t second = 0; second < static_cast<int64_t>(telemetry::RateRing::kSeconds); ++second) {
    ring.sample(1761223200 + second, telemetry.collect());
  }
  config::DbConfig config;
  testing::TempDir dir;
  config.path = (dir / "lens.db").string();
  auto database = std::move(*storage::Database::create(config));
  cache::CacheRefresher cache(*database, std::chrono::seconds(30), telemetry.cacheMetrics());
  const console::OverviewSources sources{
      .telemetry = telemetry,
      .rates = ring,
      .cache = cache,
      .not_ready_reasons = [] { return std::vector<std::string>{}; },
      .training_buffer_rows = 100000};
  size_t bytes = 0;
  for (auto _ : state) bytes = console::overviewJson(sources, 1761224200, 900, 5).size();
  state.counters["answer_bytes"] = static_cast<double>(bytes);
  state.counters["answer_bytes_step_1s"] =
      static_cast<double>(console::overviewJson(sources, 1761224200, 900, 1).size());
}
BENCHMARK(BM_Overview)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
