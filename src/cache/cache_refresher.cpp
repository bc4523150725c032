#include "cache/cache_refresher.h"

#include <algorithm>

#include "cache/snapshot_file.h"
#include "common/status.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"
#include "storage/cluster_state.h"

namespace tp::cache {

namespace {

absl::Status readClusterState(storage::Database& database, SnapshotBuilder& builder) {
  TP_RETURN_IF_ERROR(storage::readDevicePods(
      database, [&builder](const storage::DevicePodRow& row) { builder.addDevice(row); }));
  return storage::readWorkloadPods(
      database, [&builder](const storage::WorkloadPodRow& row) { builder.addWorkloadPod(row); });
}

}  // namespace

std::string_view sourceName(SnapshotSource source) {
  switch (source) {
    case SnapshotSource::kDatabase:
      return "database";
    case SnapshotSource::kFile:
      return "file";
    case SnapshotSource::kNone:
      break;
  }
  return "none";
}

CacheRefresher::CacheRefresher(storage::Database& database, std::chrono::milliseconds interval,
                               telemetry::CacheMetrics metrics, std::filesystem::path snapshot_file,
                               const common::Clock& clock)
    : database_(database),
      interval_(interval),
      metrics_(metrics),
      snapshot_file_(std::move(snapshot_file)),
      clock_(clock),
      snapshot_(SnapshotBuilder().build()) {}

CacheRefresher::~CacheRefresher() { stop(); }

SnapshotOrigin CacheRefresher::origin() const {
  std::lock_guard lock(origin_mutex_);
  if (source_ == SnapshotSource::kNone) return {};
  // A file written on a machine whose clock ran ahead must not show a negative age.
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow() - read_at_);
  return {
      .source = source_, .age = std::max(age, std::chrono::seconds(0)), .generation = generation_};
}

SnapshotSource CacheRefresher::source() const {
  std::lock_guard lock(origin_mutex_);
  return source_;
}

absl::Status CacheRefresher::refreshNow() {
  std::lock_guard refresh_lock(refresh_mutex_);
  const common::Clock::TimePoint started = clock_.now();
  SnapshotBuilder builder;
  absl::Status status = readClusterState(database_, builder);
  const double seconds = std::chrono::duration<double>(clock_.now() - started).count();
  if (!status.ok()) {
    metrics_.refresh_failures->Increment();
    spdlog::warn("cache refresh failed, keeping the previous snapshot: {}",
                 common::message(status));
    if (!loaded() && !snapshot_file_tried_) loadSnapshotFile();
    return status;
  }
  const auto read_at = clock_.wallNow();
  metrics_.refresh_duration->Observe(seconds);
  metrics_.last_success_timestamp->Set(
      std::chrono::duration<double>(read_at.time_since_epoch()).count());
  std::shared_ptr<const ClusterSnapshot> snapshot = builder.build();
  publish(snapshot, SnapshotSource::kDatabase, read_at);
  // Saved at every refresh, changed or not: the file's time is then that of the latest read,
  // which is what its age after a restart must tell. Writing is linear in the snapshot, as the
  // build was, and cheaper than the database read before it.
  if (!snapshot_file_.empty()) {
    if (absl::Status saved = writeSnapshotFile(snapshot_file_, *snapshot, read_at); !saved.ok()) {
      metrics_.snapshot_file_failures->Increment();
      spdlog::warn("cannot save the cluster state for restarts: {}", common::message(saved));
    }
  }
  return absl::OkStatus();
}

// Once only: the file changes only after a database read, and then it is no longer needed.
void CacheRefresher::loadSnapshotFile() {
  snapshot_file_tried_ = true;
  if (snapshot_file_.empty()) return;
  auto stored = readSnapshotFile(snapshot_file_);
  if (!stored.ok()) {
    if (absl::IsNotFound(stored.status())) {
      spdlog::info("no saved cluster state to start from ({})", common::message(stored.status()));
    } else {
      spdlog::warn("ignoring the saved cluster state: {}", common::message(stored.status()));
    }
    return;
  }
  publish(std::move(stored->snapshot), SnapshotSource::kFile, stored->read_at);
}

void CacheRefresher::publish(std::shared_ptr<const ClusterSnapshot> snapshot, SnapshotSource source,
                             std::chrono::system_clock::time_point read_at) {
  metrics_.device_entries->Set(static_cast<double>(snapshot->deviceCount()));
  metrics_.pod_entries->Set(static_cast<double>(snapshot->podNameCount()));
  metrics_.workload_entries->Set(static_cast<double>(snapshot->workloadCount()));
  metrics_.ignored_unknown_type->Set(static_cast<double>(snapshot->ignoredUnknownType()));
  metrics_.ignored_without_number->Set(static_cast<double>(snapshot->ignoredWithoutNumber()));
  const SnapshotSource previous = this->source();
  const ClusterSnapshot& published = *snapshot;  // kept alive by snapshot_ until the next publish
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.swap(snapshot);
  }
  snapshot.reset();  // the previous snapshot, freed outside the lock
  {
    std::lock_guard lock(origin_mutex_);
    source_ = source;
    read_at_ = read_at;
    ++generation_;
  }
  loaded_.store(true, std::memory_order_release);
  if (source == previous) return;  // logged when the state starts coming from somewhere new
  const std::string counts =
      fmt::format("{} nodes, {} devices, {} pods, {} workloads", published.nodeCount(),
                  published.deviceCount(), published.podNameCount(), published.workloadCount());
  if (source == SnapshotSource::kFile) {
    spdlog::warn("cluster state loaded from {} as the database cannot be read ({} s old): {}",
                 snapshot_file_.string(), origin().age.count(), counts);
  } else {
    spdlog::info("cluster state loaded from {}: {}", database_.description(), counts);
  }
}

void CacheRefresher::start() {
  const common::Clock::TimePoint next = refreshAndSchedule();
  thread_ = std::thread([this, next] { run(next); });
}

common::Clock::TimePoint CacheRefresher::refreshAndSchedule() {
  constexpr std::chrono::milliseconds kUntilRead{1000};
  // Counted from the start of the refresh, which can take a while.
  const common::Clock::TimePoint started = clock_.now();
  refreshNow().IgnoreError();  // logged and counted inside
  return started +
         (source() == SnapshotSource::kDatabase ? interval_ : std::min(interval_, kUntilRead));
}

void CacheRefresher::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CacheRefresher::run(common::Clock::TimePoint next) {
  std::unique_lock lock(stop_mutex_);
  while (!clock_.waitUntil(lock, stop_requested_, next, [this] { return stopping_; })) {
    lock.unlock();
    next = refreshAndSchedule();
    lock.lock();
  }
}

}  // namespace tp::cache
