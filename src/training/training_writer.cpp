#include "training/training_writer.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace tp::training {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kMinBackoff{100};

template <typename T>
void moveFront(std::deque<T>& from, size_t count, std::vector<T>& to) {
  to.assign(std::make_move_iterator(from.begin()),
            std::make_move_iterator(from.begin() + static_cast<std::ptrdiff_t>(count)));
  from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(count));
}

template <typename T>
void putBack(std::vector<T>& items, std::deque<T>& to) {
  to.insert(to.begin(), std::make_move_iterator(items.begin()),
            std::make_move_iterator(items.end()));
}

}  // namespace

TrainingWriter::TrainingWriter(storage::Database& database, const config::TrainingConfig& config,
                               telemetry::TrainingWriteMetrics metrics)
    : database_(database), config_(config), metrics_(metrics) {}

TrainingWriter::~TrainingWriter() {
  if (thread_.joinable()) stop(milliseconds(0));
}

void TrainingWriter::start() {
  thread_ = std::thread([this] { run(); });
}

void TrainingWriter::stop(milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = Clock::now() + grace;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool TrainingWriter::submit(TrainingItems&& items) {
  if (items.empty()) return true;
  {
    std::lock_guard lock(mutex_);
    const size_t buffered = starts_.size() + performances_.size() + in_flight_;
    if (stopping_ || buffered + items.size() > static_cast<size_t>(config_.buffer_rows)) {
      return false;
    }
    for (PendingStart& start : items.starts) starts_.push_back(std::move(start));
    for (PendingPerformance& row : items.performances) performances_.push_back(std::move(row));
    metrics_.pending->Set(static_cast<double>(buffered + items.size()));
  }
  wake_.notify_one();
  return true;
}

size_t TrainingWriter::pending() const {
  std::lock_guard lock(mutex_);
  return starts_.size() + performances_.size() + in_flight_;
}

void TrainingWriter::run() {
  const size_t batch_rows = static_cast<size_t>(config_.batch_rows);
  milliseconds backoff = kMinBackoff;
  std::mt19937 jitter(std::random_device{}());
  std::unique_lock lock(mutex_);
  const auto buffered = [this] { return starts_.size() + performances_.size(); };
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || buffered() > 0; });
    if (buffered() == 0) break;  // stopping with nothing left
    if (stopping_ && Clock::now() >= deadline_) break;
    // Let a batch fill up for at most one flush interval.
    if (!stopping_ && buffered() < batch_rows) {
      wake_.wait_for(lock, config_.flush_interval,
                     [&] { return stopping_ || buffered() >= batch_rows; });
    }
    TrainingItems batch;
    moveFront(starts_, std::min(starts_.size(), batch_rows), batch.starts);
    moveFront(performances_, std::min(performances_.size(), batch_rows - batch.starts.size()),
              batch.performances);
    in_flight_ = batch.size();
    lock.unlock();
    const absl::Status status = write(batch);
    lock.lock();
    in_flight_ = 0;
    if (status.ok()) {
      backoff = kMinBackoff;
    } else {
      metrics_.write_errors->Increment();
      putBack(batch.performances, performances_);
      putBack(batch.starts, starts_);
      spdlog::warn("training rows: database write failed, {} items kept for retry in {} ms: {}",
                   buffered(), backoff.count(), common::message(status));
      const milliseconds delay =
          backoff / 2 + milliseconds(std::uniform_int_distribution<int64_t>(
                            0, std::max<int64_t>(1, backoff.count() / 2))(jitter));
      wake_.wait_for(lock, delay, [&] { return stopping_ && Clock::now() >= deadline_; });
      backoff = std::min(backoff * 2, std::max(kMinBackoff, config_.retry_max_backoff));
    }
    metrics_.pending->Set(static_cast<double>(buffered()));
  }
  const size_t lost = buffered();
  if (lost > 0) {
    metrics_.lost_at_shutdown->Increment(static_cast<double>(lost));
    spdlog::warn("training rows: {} rows and events not written before the grace period ended",
                 lost);
  }
}

absl::Status TrainingWriter::write(const TrainingItems& batch) {
  if (absl::Status status = loadWorkloads(batch); !status.ok()) return status;
  if (absl::Status status = writeStarts(batch.starts); !status.ok()) return status;
  return writePerformances(batch.performances);
}

absl::Status TrainingWriter::loadWorkloads(const TrainingItems& batch) {
  absl::flat_hash_set<std::string_view> unknown;
  for (const PendingStart& start : batch.starts) {
    if (!serials_.loaded(start.workload_uid)) unknown.insert(start.workload_uid);
  }
  for (const PendingPerformance& row : batch.performances) {
    if (!serials_.loaded(row.workload_uid)) unknown.insert(row.workload_uid);
  }
  return reloadRuns(unknown);
}

absl::Status TrainingWriter::reloadRuns(const absl::flat_hash_set<std::string_view>& workloads) {
  for (std::string_view workload : workloads) {
    auto runs = storage::loadRuns(database_, workload);
    if (!runs.ok()) return runs.status();
    serials_.load(workload, *runs);
  }
  return absl::OkStatus();
}

absl::Status TrainingWriter::writeStarts(const std::vector<PendingStart>& starts) {
  // Many ranks print the marker at once: one event per (workload, nearest workload).
  std::vector<storage::StartTrainEvent> events;
  absl::flat_hash_set<std::pair<std::string_view, std::string_view>> seen;
  for (const PendingStart& start : starts) {
    if (serials_.recorded(start.workload_uid, start.nearest_workload_uid) ||
        !seen.emplace(start.workload_uid, start.nearest_workload_uid).second) {
      continue;
    }
    events.push_back({start.workload_uid, start.nearest_workload_uid, start.pod_uid,
                      serials_.serialFor(start.workload_uid, start.nearest_workload_uid),
                      start.time_us});
  }
  if (events.empty()) return absl::OkStatus();
  const auto began = Clock::now();
  auto inserted = storage::insertStartTrainEvents(database_, events);
  metrics_.write_duration->Observe(std::chrono::duration<double>(Clock::now() - began).count());
  if (!inserted.ok()) {
    metrics_.event_errors->Increment(static_cast<double>(events.size()));
    return inserted.status();
  }
  metrics_.events_created->Increment(static_cast<double>(*inserted));
  if (*inserted == events.size()) {
    for (const auto& event : events) {
      serials_.record(event.workload_uid, event.nearest_workload_uid, event.run_serial);
    }
    return absl::OkStatus();
  }
  // Another replica recorded some of these first: its serials are the ones that count.
  absl::flat_hash_set<std::string_view> workloads;
  for (const auto& event : events) workloads.insert(event.workload_uid);
  return reloadRuns(workloads);
}

absl::Status TrainingWriter::writePerformances(
    const std::vector<PendingPerformance>& performances) {
  if (performances.empty()) return absl::OkStatus();
  std::vector<storage::PerformanceRow> rows;
  rows.reserve(performances.size());
  for (const PendingPerformance& row : performances) {
    rows.push_back({row.workload_uid, row.pod_uid, row.performance_json, row.iteration,
                    serials_.serialFor(row.workload_uid, row.nearest_workload_uid), row.time_us});
  }
  const auto began = Clock::now();
  auto inserted = storage::insertPerformanceRows(database_, rows);
  metrics_.write_duration->Observe(std::chrono::duration<double>(Clock::now() - began).count());
  if (!inserted.ok()) {
    metrics_.performance_failed->Increment(static_cast<double>(rows.size()));
    return inserted.status();
  }
  metrics_.performance_written->Increment(static_cast<double>(*inserted));
  return absl::OkStatus();
}

}  // namespace tp::training
