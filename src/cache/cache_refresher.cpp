#include "cache/cache_refresher.h"

#include "common/strings.h"
#include "spdlog/spdlog.h"
#include "storage/cluster_state.h"
#include "storage/schema.h"

namespace tp::cache {

CacheRefresher::CacheRefresher(storage::Database& database, std::chrono::milliseconds interval,
                               telemetry::CacheMetrics metrics)
    : database_(database),
      interval_(interval),
      metrics_(metrics),
      snapshot_(SnapshotBuilder().build()) {}

CacheRefresher::~CacheRefresher() { stop(); }

absl::Status CacheRefresher::refreshNow() {
  std::lock_guard refresh_lock(refresh_mutex_);
  const auto started = std::chrono::steady_clock::now();
  absl::Status status;
  if (!schema_ready_) {
    std::vector<std::string> warnings;
    status = storage::ensureSchema(database_, &warnings);
    for (const auto& warning : warnings) spdlog::warn("schema: {}", warning);
    schema_ready_ = status.ok();
  }
  SnapshotBuilder builder;
  if (status.ok()) {
    status = storage::readDevicePods(
        database_, [&builder](const storage::DevicePodRow& row) { builder.addDevice(row); });
  }
  if (status.ok()) {
    status = storage::readWorkloadPods(
        database_, [&builder](const storage::WorkloadPodRow& row) { builder.addWorkloadPod(row); });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!status.ok()) {
    metrics_.refresh_failures->Increment();
    spdlog::warn("cache refresh failed, keeping the previous snapshot: {}",
                 common::message(status));
    return status;
  }
  std::shared_ptr<const ClusterSnapshot> snapshot = builder.build();
  metrics_.refresh_duration->Observe(seconds);
  metrics_.device_entries->Set(static_cast<double>(snapshot->deviceCount()));
  metrics_.pod_entries->Set(static_cast<double>(snapshot->podNameCount()));
  metrics_.workload_entries->Set(static_cast<double>(snapshot->workloadCount()));
  metrics_.ignored_unknown_type->Set(static_cast<double>(snapshot->ignoredUnknownType()));
  metrics_.ignored_without_number->Set(static_cast<double>(snapshot->ignoredWithoutNumber()));
  metrics_.last_success_timestamp->Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  if (!loaded_.load(std::memory_order_acquire)) {
    spdlog::info("cluster state loaded from {}: {} nodes, {} devices, {} pods, {} workloads",
                 database_.description(), snapshot->nodeCount(), snapshot->deviceCount(),
                 snapshot->podNameCount(), snapshot->workloadCount());
  }
  snapshot_.store(std::move(snapshot));
  loaded_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void CacheRefresher::start() {
  refreshNow().IgnoreError();  // logged and counted inside
  thread_ = std::thread([this] { run(); });
}

void CacheRefresher::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CacheRefresher::run() {
  constexpr std::chrono::milliseconds kUntilLoaded{1000};
  std::unique_lock lock(stop_mutex_);
  while (!stop_requested_.wait_for(lock, loaded() ? interval_ : std::min(interval_, kUntilLoaded),
                                   [this] { return stopping_; })) {
    lock.unlock();
    refreshNow().IgnoreError();  // logged and counted inside
    lock.lock();
  }
}

}  // namespace tp::cache
