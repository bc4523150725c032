// Cluster-state cache at production scale, from a real PostgreSQL on loopback: 10 000 nodes x
// 8 GPUs, 80 000 pods (one GPU and one RDMA device each), 20 000 workloads (4 pods each, every
// second one with a parent). Reports the refresh time (read + build), the snapshot's heap
// footprint, and the cost of the lookups one series needs.
//
//   build/release/bench/cache_refresh_bench --benchmark_min_time=2

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <random>

#include "cache/cache_refresher.h"
#include "soci/soci.h"
#include "storage/schema.h"
#include "support/database_servers.h"

namespace tp {
namespace {

constexpr int kNodes = 10'000;
constexpr int kGpusPerNode = 8;
constexpr int kPods = kNodes * kGpusPerNode;
constexpr int kPodsPerWorkload = 4;
constexpr int kWorkloads = kPods / kPodsPerWorkload;

// Server-side generation: a few statements instead of 400 000 client round trips.
void fillCluster(storage::Database& database) {
  const absl::Status status = database.run([](soci::session& sql) {
    sql << "INSERT INTO gpu_pods (namespace, name, node_name, uid, running, deleted) "
           "SELECT 'team', 'pod-' || i, 'node-' || (i / 8), 'pod-uid-' || i, TRUE, FALSE "
           "FROM generate_series(0, "
        << kPods - 1 << ") AS i";
    sql << "INSERT INTO node_container (container_id, container_name, pod_uid, pod_name, "
           "node_name) SELECT 'c-' || i, 'main', 'pod-uid-' || i, 'pod-' || i, 'node-' || (i / 8) "
           "FROM generate_series(0, "
        << kPods - 1 << ") AS i";
    sql << "INSERT INTO node_container_devices (container_id, device_type, device_name, "
           "device_no) SELECT 'c-' || i, 'gpu', 'card' || (i % 8), i % 8 "
           "FROM generate_series(0, "
        << kPods - 1 << ") AS i";
    sql << "INSERT INTO node_container_devices (container_id, device_type, device_name, "
           "device_no) SELECT 'c-' || i, 'rdma', 'rdma' || (i % 8), i % 8 "
           "FROM generate_series(0, "
        << kPods - 1 << ") AS i";
    sql << "INSERT INTO gpu_workload (kind, namespace, name, uid, parent_uid, status) "
           "SELECT 'PyTorchJob', 'team', 'job-' || i, 'w-uid-' || i, "
           "CASE WHEN i % 2 = 1 THEN 'w-uid-' || (i - 1) ELSE '' END, 'Running' "
           "FROM generate_series(0, "
        << kWorkloads - 1 << ") AS i";
    sql << "INSERT INTO workload_pod_reference (workload_uid, pod_uid) "
           "SELECT 'w-uid-' || (i / 4), 'pod-uid-' || i FROM generate_series(0, "
        << kPods - 1 << ") AS i";
    sql << "ANALYZE gpu_pods, node_container, node_container_devices, gpu_workload, "
           "workload_pod_reference";
  });
  if (!status.ok()) throw std::runtime_error(std::string(status.message()));
}

struct Fixture {
  Fixture() : server(), telemetry("bench") {
    database = std::move(*storage::Database::create(server.dbConfig()));
    if (!storage::ensureSchema(*database, nullptr).ok()) throw std::runtime_error("schema");
    fillCluster(*database);
    refresher = std::make_unique<cache::CacheRefresher>(*database, std::chrono::hours(1),
                                                        telemetry.cacheMetrics());
  }

  testing::PostgresServer server;
  telemetry::Telemetry telemetry;
  std::unique_ptr<storage::Database> database;
  std::unique_ptr<cache::CacheRefresher> refresher;
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void BM_RefreshFromPostgres(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    if (!f.refresher->refreshNow().ok()) state.SkipWithError("refresh failed");
  }
  const auto snapshot = f.refresher->snapshot();
  state.counters["devices"] = static_cast<double>(snapshot->deviceCount());
  state.counters["pods"] = static_cast<double>(snapshot->podCount());
  state.counters["workloads"] = static_cast<double>(snapshot->workloadCount());
}
BENCHMARK(BM_RefreshFromPostgres)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

// Heap bytes held by one snapshot: allocated bytes with it alive minus after it is freed.
void BM_SnapshotMemory(benchmark::State& state) {
  Fixture& f = fixture();
  double megabytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    cache::SnapshotBuilder builder;
    std::vector<storage::DevicePodRow> devices;
    std::vector<storage::WorkloadPodRow> references;
    storage::readDevicePods(*f.database, [&](const auto& row) {
      devices.push_back(row);
    }).IgnoreError();
    storage::readWorkloadPods(*f.database, [&](const auto& row) {
      references.push_back(row);
    }).IgnoreError();
    const size_t before = mallinfo2().uordblks;
    for (const auto& row : devices) builder.addDevice(row);
    for (const auto& row : references) builder.addWorkloadPod(row);
    auto snapshot = builder.build();
    const size_t held = mallinfo2().uordblks;
    snapshot.reset();
    megabytes = static_cast<double>(held - before) / (1 << 20);
    state.ResumeTiming();
  }
  state.counters["snapshot_MiB"] = megabytes;
}
BENCHMARK(BM_SnapshotMemory)->Iterations(1);

// What enrichment does per series: node -> gpu_id -> pod -> the pod's workloads.
void BM_LookupPerSeries(benchmark::State& state) {
  Fixture& f = fixture();
  if (!f.refresher->loaded()) f.refresher->refreshNow().IgnoreError();
  const auto snapshot = f.refresher->snapshot();
  std::mt19937 random(42);
  std::vector<std::pair<std::string, std::string>> keys;
  for (int i = 0; i < 4096; ++i) {
    const int pod = static_cast<int>(random() % kPods);
    keys.emplace_back("node-" + std::to_string(pod / 8), std::to_string(pod % 8));
  }
  size_t found = 0;
  size_t i = 0;
  for (auto _ : state) {
    const auto& [node, gpu] = keys[i++ & 4095];
    const cache::PodRef* pod = snapshot->podOfDevice(node, cache::DeviceLabel::kGpuId, gpu);
    if (pod != nullptr && pod->workloads_by_uid != nullptr) ++found;
  }
  if (found != static_cast<size_t>(state.iterations())) state.SkipWithError("a lookup missed");
}
BENCHMARK(BM_LookupPerSeries);

}  // namespace
}  // namespace tp

BENCHMARK_MAIN();
