#include "forward/forwarder.h"

#include <snappy.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <functional>
#include <optional>

#include "common/backoff.h"
#include "common/log_throttle.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/url.h"
#include "forward/lanes.h"
#include "forward/remote_write_client.h"
#include "forward/retry_policy.h"
#include "queue/disk_queue.h"
#include "spdlog/spdlog.h"

namespace tp::forward {

using queue::DiskQueue;
using queue::DiskQueueOptions;
using queue::QueuedRecord;
using queue::QueueRecovery;
using queue::WhenFull;

namespace {

// A directory name per endpoint that stays the same across restarts: readable, and unique.
std::string queueDirectoryName(const std::string& url) {
  std::string name;
  for (char c : url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3)) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
  }
  uint64_t hash = 14695981039346656037ull;  // FNV-1a: stable, unlike std::hash
  for (char c : url) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return fmt::format("{}-{:08x}", name.substr(0, 80), hash & 0xffffffffu);
}

// One lane's queue as opened.
struct LaneQueue {
  size_t number = 0;
  std::unique_ptr<DiskQueue> queue;
  // Per earlier epoch (LaneMapping): the first segment of this queue holding later batches.
  std::vector<uint64_t> epoch_ends;
};

struct OpenedLanes {
  std::vector<LaneQueue> lanes;  // by lane number; 0 .. lanes-1 take new batches
  size_t epochs = 0;             // earlier epochs some lane still holds batches of
  uint64_t corrupt_records = 0;
};

// Opens (or resumes) an endpoint's lane queues: lane 0 in `name`, lane i in `name`-lane<i>.
// Lanes beyond `lanes` that an earlier run with a higher metricsWrite.concurrency left with
// batches are opened too, to be drained; empty ones are removed. `name`.lanes says which lane
// count the queued batches were cut for; when that changes while batches are queued, they become
// an earlier epoch, delivered before anything later.
absl::StatusOr<OpenedLanes> openLanes(const config::QueueConfig& queue, const std::string& name,
                                      int lanes, const std::string& url) {
  const std::filesystem::path root(queue.dir);
  std::vector<size_t> numbers;
  numbers.reserve(static_cast<size_t>(lanes));
  for (int i = 0; i < lanes; ++i) numbers.push_back(static_cast<size_t>(i));
  const std::string leftover_prefix = name + "-lane";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with(leftover_prefix)) continue;
    const std::string index = file.substr(leftover_prefix.size());
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos ||
        index.size() > 4 || index != std::to_string(std::stoi(index)) || std::stoi(index) < lanes) {
      continue;  // not a lane directory as lane_dir() names them, or one opened anyway
    }
    numbers.push_back(static_cast<size_t>(std::stoi(index)));
  }
  std::sort(numbers.begin(), numbers.end());
  const auto lane_dir = [&](size_t number) {
    return root / (number == 0 ? name : fmt::format("{}-lane{}", name, number));
  };

  OpenedLanes opened;
  QueueRecovery total;
  std::vector<uint64_t> append_segments;
  std::vector<std::optional<uint64_t>> oldest;  // the segment of each lane's oldest batch
  for (size_t number : numbers) {
    QueueRecovery recovery;
    auto lane = DiskQueue::open(queueOptions(queue, lane_dir(number), lanes), &recovery);
    if (!lane.ok()) return lane.status();
    total.records += recovery.records;
    total.items += recovery.items;
    total.corrupt_records += recovery.corrupt_records;
    total.torn_bytes += recovery.torn_bytes;
    QueuedRecord record;
    oldest.push_back((*lane)->next(nullptr, &record) ? std::optional(record.end.segment)
                                                     : std::nullopt);
    append_segments.push_back(recovery.append_segment);
    opened.lanes.push_back({.number = number, .queue = std::move(*lane), .epoch_ends = {}});
  }
  if (total.records > 0 || total.corrupt_records > 0 || total.torn_bytes > 0) {
    spdlog::info(
        "remote write {}: resuming {} queued batches ({} samples); {} corrupt records skipped, "
        "{} bytes of an interrupted write cut",
        url, total.records, total.items, total.corrupt_records, total.torn_bytes);
  }
  opened.corrupt_records = total.corrupt_records;

  // Keeps the epochs some lane still holds batches of; an empty lane holds none of any.
  const std::filesystem::path mapping_path = root / (name + ".lanes");
  const std::optional<LaneMapping> saved = readLaneMapping(mapping_path);
  LaneMapping mapping{.lanes = lanes, .epoch_ends = {}};
  const auto end_in = [](const std::vector<uint64_t>& ends, size_t number) {
    return number < ends.size() ? ends[number] : 0;
  };
  const auto add_epoch = [&](const auto& end_of) {
    std::vector<uint64_t>& ends = mapping.epoch_ends.emplace_back(numbers.back() + 1, 0);
    for (size_t i = 0; i < numbers.size(); ++i) {
      if (oldest[i]) ends[numbers[i]] = end_of(i);
    }
  };
  for (size_t epoch = 0; saved && epoch < saved->epoch_ends.size(); ++epoch) {
    const std::vector<uint64_t>& ends = saved->epoch_ends[epoch];
    bool pending = false;
    for (size_t i = 0; i < numbers.size(); ++i) {
      pending = pending || (oldest[i] && *oldest[i] < end_in(ends, numbers[i]));
    }
    if (pending) add_epoch([&](size_t i) { return end_in(ends, numbers[i]); });
  }
  const bool holds_batches = std::any_of(oldest.begin(), oldest.end(),
                                         [](const auto& segment) { return segment.has_value(); });
  if (holds_batches && (!saved || saved->lanes != lanes)) {
    spdlog::info(
        "remote write {}: batches queued for {} lanes; they are delivered before any cut for "
        "metricsWrite.concurrency {}, so that every series stays in order",
        url, saved ? std::to_string(saved->lanes) : "another number of", lanes);
    add_epoch([&](size_t i) { return append_segments[i]; });
  }
  if (!saved || !(*saved == mapping)) {
    TP_RETURN_IF_ERROR(writeLaneMapping(mapping_path, mapping));
  }
  opened.epochs = mapping.epoch_ends.size();
  for (LaneQueue& lane : opened.lanes) {
    for (const auto& ends : mapping.epoch_ends)
      lane.epoch_ends.push_back(end_in(ends, lane.number));
  }
  // Empty leftover lanes go (the mapping, written first, gives them no batches of any epoch).
  for (size_t i = opened.lanes.size(); i-- > static_cast<size_t>(lanes);) {
    if (oldest[i]) continue;
    opened.lanes[i].queue.reset();
    std::filesystem::remove_all(lane_dir(opened.lanes[i].number), error);
    opened.lanes.erase(opened.lanes.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return opened;
}

}  // namespace

class Forwarder::Endpoint {
 public:
  Endpoint(std::string url, common::HttpUrl parsed, const config::MetricsWriteConfig& config,
           const config::QueueConfig& queue, OpenedLanes opened, telemetry::EndpointMetrics metrics,
           const common::Clock& clock)
      : url_(std::move(url)),
        parsed_(std::move(parsed)),
        config_(config),
        clock_(clock),
        max_disk_usage_(queue.max_disk_usage),
        drop_oldest_(queue.when_full == config::WhenFull::kDropOldest),
        epochs_(opened.epochs),
        metrics_(metrics) {
    for (LaneQueue& opened_lane : opened.lanes) {
      auto lane = std::make_unique<Lane>();
      lane->queue = std::move(opened_lane.queue);
      lane->epoch_ends = std::move(opened_lane.epoch_ends);
      lane->client = std::make_unique<RemoteWriteClient>(parsed_, config_.timeout, clock_);
      lanes_.push_back(std::move(lane));
    }
    held_.resize(lanes_.size());
    updateAccounting();
  }

  ~Endpoint() {
    stopped_ = true;
    for (auto& lane : lanes_) lane->client->stopAt(clock_.now());
    wakeAll();
    finish();
  }

  const std::string& url() const { return url_; }

  // The oldest batch waiting in any lane.
  std::optional<queue::OldestRecord> oldestRecord() const {
    std::optional<queue::OldestRecord> oldest;
    for (const auto& lane : lanes_) {
      const std::optional<queue::OldestRecord> record = lane->queue->oldestRecord();
      if (record && (!oldest || record->appended < oldest->appended)) oldest = record;
    }
    return oldest;
  }

  void start() {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      lanes_[i]->sender = std::thread([this, i] { sendLoop(*lanes_[i], i); });
    }
  }

  bool hasRoomFor(const std::vector<Batch>& batches) const {
    for (size_t i = 0; i < batches.size(); ++i) {
      if (!batches[i].snappy.empty() && !lanes_[i]->queue->hasRoomFor(batches[i].snappy.size())) {
        return false;
      }
    }
    return true;
  }

  // Appends each lane's batch to its queue; stops at the first that fails.
  absl::Status enqueue(const std::vector<Batch>& batches) {
    absl::Status status;
    for (size_t i = 0; i < batches.size() && status.ok(); ++i) {
      if (batches[i].snappy.empty()) continue;
      Lane& lane = *lanes_[i];
      uint64_t dropped_samples = 0;
      status = lane.queue->append(batches[i].snappy, static_cast<uint32_t>(batches[i].samples),
                                  &dropped_samples);
      if (dropped_samples > 0) {
        metrics_.batches_dropped_full->Increment();
        metrics_.samples_dropped->Increment(static_cast<double>(dropped_samples));
        warnRateLimited("queue full; dropped the oldest batches (queue.whenFull=drop_oldest)");
      }
      if (status.ok()) {
        std::lock_guard lock(lane.mutex);
        lane.wakeup.notify_one();
      }
    }
    updateAccounting();
    return status;
  }

  // Senders deliver what is queued until the deadline, then stop (a request in flight is cut
  // off); the rest stays queued.
  void drainUntil(common::Clock::TimePoint deadline) {
    drain_deadline_ = deadline;
    draining_ = true;
    for (auto& lane : lanes_) lane->client->stopAt(deadline);
    wakeAll();
  }

  // Waits for the senders to stop (after drainUntil, or at destruction).
  void finish() {
    if (std::exchange(finished_, true)) return;
    uint64_t left = 0;
    for (auto& lane : lanes_) {
      if (lane->sender.joinable()) lane->sender.join();
      if (absl::Status status = lane->queue->sync(); !status.ok()) {
        warnRateLimited(common::message(status));
      }
      left += lane->queue->pendingRecords();
    }
    if (left > 0) {
      spdlog::info("remote write {}: {} batches stay queued for the next start", url_, left);
    }
  }

 private:
  // One queue and the sender that delivers it in order.
  struct Lane {
    std::unique_ptr<DiskQueue> queue;
    std::vector<uint64_t> epoch_ends;  // LaneQueue::epoch_ends
    std::unique_ptr<RemoteWriteClient> client;
    std::mutex mutex;  // for the wakeup only: the queue locks itself
    std::condition_variable wakeup;
    std::thread sender;
    // The epoch of the oldest batch it holds (epochs_ when empty); guarded by epoch_mutex_.
    size_t oldest_epoch = 0;
  };

  void wakeAll() {
    for (auto& lane : lanes_) {
      std::lock_guard lock(lane->mutex);  // a sender between its check and its wait sees it
      lane->wakeup.notify_all();
    }
    std::lock_guard lock(epoch_mutex_);
    epoch_changed_.notify_all();
  }

  // Shares queue.maxDiskUsage among the lanes as what they hold changes (laneCaps) and publishes
  // the gauges.
  void updateAccounting() {
    std::lock_guard lock(accounting_mutex_);
    uint64_t pending = 0;
    uint64_t bytes = 0;
    uint64_t sync_failures = 0;
    for (size_t i = 0; i < lanes_.size(); ++i) {
      held_[i] = lanes_[i]->queue->bytesOnDisk();
      pending += lanes_[i]->queue->pendingRecords();
      bytes += held_[i];
      sync_failures += lanes_[i]->queue->syncFailures();
    }
    const size_t appending = static_cast<size_t>(config_.concurrency);
    const std::vector<uint64_t> caps = laneCaps(held_, appending, max_disk_usage_, drop_oldest_);
    for (size_t i = 0; i < appending; ++i) lanes_[i]->queue->setMaxBytes(caps[i]);
    metrics_.pending_batches->Set(static_cast<double>(pending));
    metrics_.queue_bytes->Set(static_cast<double>(bytes));
    if (sync_failures > sync_failures_counted_) {
      metrics_.queue_sync_failures->Increment(
          static_cast<double>(sync_failures - sync_failures_counted_));
      sync_failures_counted_ = sync_failures;
    }
  }

  bool pastDeadline() const {
    return stopped_ || (draining_ && clock_.now() >= drain_deadline_.load());
  }

  // Waits on `wakeup` (holding `lock`, its mutex) until `ready()` holds or `until` has come,
  // whichever is first, and no longer than the shutdown deadline, which a drain may set
  // meanwhile; false when the shutdown deadline came first.
  bool waitOrShutdown(std::unique_lock<std::mutex>& lock, std::condition_variable& wakeup,
                      common::Clock::TimePoint until, const std::function<bool()>& ready) {
    while (!pastDeadline()) {
      if (ready() || clock_.now() >= until) return true;
      const bool draining = draining_;
      clock_.waitUntil(lock, wakeup, draining ? std::min(until, drain_deadline_.load()) : until,
                       [&] { return ready() || pastDeadline() || draining_ != draining; });
    }
    return false;
  }

  // At most one warning per 10 s per endpoint, whichever thread notices the problem.
  void warnRateLimited(std::string_view message) {
    warnings_.log(spdlog::level::warn, "remote write {}: {}", url_, message);
  }

  void setOldestEpochLocked(Lane& lane, size_t epoch) {
    if (lane.oldest_epoch == epoch) return;
    lane.oldest_epoch = epoch;
    epoch_changed_.notify_all();
  }

  // A batch waits while any lane holds batches of an earlier epoch: cut for another lane count,
  // they may hold older samples of its series. False when shutdown came first.
  bool waitForEarlierEpochs(Lane& lane, const QueuedRecord& batch) {
    if (epochs_ == 0) return true;
    const size_t epoch = static_cast<size_t>(
        std::upper_bound(lane.epoch_ends.begin(), lane.epoch_ends.end(), batch.end.segment) -
        lane.epoch_ends.begin());
    std::unique_lock lock(epoch_mutex_);
    setOldestEpochLocked(lane, epoch);
    return waitOrShutdown(lock, epoch_changed_, common::Clock::TimePoint::max(), [&] {
      return std::none_of(lanes_.begin(), lanes_.end(),
                          [&](const auto& other) { return other->oldest_epoch < epoch; });
    });
  }

  void sendLoop(Lane& lane, uint64_t seed) {
    common::Backoff backoff(config_.retry_min_backoff, config_.retry_max_backoff, seed * 7919 + 17);
    QueuedRecord record;  // reused: its buffer grows once
    while (true) {
      {
        std::unique_lock lock(lane.mutex);
        bool taken = false;
        lane.wakeup.wait(lock, [&] {
          if (stopped_) return true;
          taken = lane.queue->next(nullptr, &record);
          if (!taken && epochs_ > 0) {  // whatever comes next is of the current epoch
            std::lock_guard epoch_lock(epoch_mutex_);
            setOldestEpochLocked(lane, epochs_);
          }
          return taken || draining_;
        });
        if (!taken || pastDeadline()) return;
      }
      if (!waitForEarlierEpochs(lane, record)) return;  // shutting down: it stays queued
      if (!deliver(lane, backoff, record)) return;
      if (absl::Status status = lane.queue->commit(record.end); !status.ok()) {
        warnRateLimited(common::message(status));
      }
      updateAccounting();
    }
  }

  // True once the batch is delivered or rejected for good; false when shutdown interrupted it.
  bool deliver(Lane& lane, common::Backoff& backoff, const QueuedRecord& batch) {
    for (int attempt = 1;; ++attempt) {
      // Dropped meanwhile to make room (queue.whenFull=drop_oldest) and counted as dropped:
      // sending it as well would count it twice.
      if (!lane.queue->holds(batch.end)) return true;
      const auto started = clock_.now();
      const SendResult result = lane.client->post(batch.payload);
      if (result.status == 0 && pastDeadline()) return false;  // cut off by the shutdown
      metrics_.send_duration->Observe(
          std::chrono::duration<double>(clock_.now() - started).count());
      if (result.status == 0) {
        metrics_.network_errors->Increment();
      } else {
        metrics_.requests[telemetry::statusClassIndex(result.status)]->Increment();
      }
      switch (classifyStatus(result.status)) {
        case SendOutcome::kDelivered:
          metrics_.bytes_sent->Increment(static_cast<double>(batch.payload.size()));
          metrics_.samples_sent->Increment(static_cast<double>(batch.items));
          return true;
        case SendOutcome::kRejected:
          metrics_.batches_rejected->Increment();
          metrics_.samples_dropped->Increment(static_cast<double>(batch.items));
          warnRateLimited(common::concat("storage rejected a batch of ", batch.items,
                                         " samples with ", result.status, ": ",
                                         common::trim(result.body)));
          return true;
        case SendOutcome::kRetry:
          break;
      }
      warnRateLimited(result.status == 0
                          ? common::concat("send failed, retrying: ", result.error)
                          : common::concat("storage answered ", result.status, ", retrying"));
      const auto retry_at =
          clock_.now() + backoff.next(attempt, parseRetryAfter(result.retry_after));
      std::unique_lock lock(lane.mutex);
      if (!waitOrShutdown(lock, lane.wakeup, retry_at, [] { return false; })) return false;
      metrics_.retries->Increment();
    }
  }

  const std::string url_;
  const common::HttpUrl parsed_;
  const config::MetricsWriteConfig& config_;
  const common::Clock& clock_;
  const uint64_t max_disk_usage_;
  const bool drop_oldest_;
  const size_t
      epochs_;  // earlier epochs queued at start; batches appended now are of epoch epochs_
  telemetry::EndpointMetrics metrics_;
  std::vector<std::unique_ptr<Lane>> lanes_;

  std::mutex accounting_mutex_;
  // Per lane, reused by updateAccounting(); guarded by accounting_mutex_.
  std::vector<uint64_t> held_;
  uint64_t sync_failures_counted_ = 0;  // guarded by accounting_mutex_

  std::mutex epoch_mutex_;
  std::condition_variable epoch_changed_;

  std::atomic<bool> stopped_{false};
  std::atomic<bool> draining_{false};
  std::atomic<common::Clock::TimePoint> drain_deadline_{};
  common::LogThrottle warnings_{std::chrono::seconds(10), clock_};
  bool finished_ = false;
};

DiskQueueOptions queueOptions(const config::QueueConfig& queue, std::filesystem::path dir,
                              int lanes) {
  const uint64_t max_bytes = queue.max_disk_usage / static_cast<uint64_t>(std::max(lanes, 1));
  return {.dir = std::move(dir),
          .max_bytes = max_bytes,
          // Small enough that deleting delivered segments keeps the disk near what is pending,
          // large enough to keep files few.
          .segment_bytes = std::clamp<uint64_t>(max_bytes / 8, 64 << 10, 64 << 20),
          .fsync_always = queue.fsync == config::FsyncMode::kAlways,
          .when_full = queue.when_full == config::WhenFull::kDropOldest ? WhenFull::kDropOldest
                                                                        : WhenFull::kReject};
}

Forwarder::Forwarder(const config::MetricsWriteConfig& config, telemetry::Telemetry& telemetry,
                     const common::Clock& clock)
    : config_(config), clock_(clock), batch_samples_(telemetry.batchSamplesHistogram()) {}

absl::StatusOr<std::unique_ptr<Forwarder>> Forwarder::create(
    const config::MetricsWriteConfig& config, const config::QueueConfig& queue,
    telemetry::Telemetry& telemetry, const common::Clock& clock) {
  std::unique_ptr<Forwarder> forwarder(new Forwarder(config, telemetry, clock));
  for (const std::string& configured : config.endpoints) {
    const std::string url = writeUrlFor(configured);
    auto parsed = common::parseHttpUrl(url);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          common::concat("metricsWrite.endpoints: ", common::message(parsed.status())));
    }
    auto lanes = openLanes(queue, queueDirectoryName(url), config.concurrency, url);
    if (!lanes.ok()) return lanes.status();
    telemetry::EndpointMetrics metrics = telemetry.endpointMetrics(url);
    metrics.queue_corrupt_records->Increment(static_cast<double>(lanes->corrupt_records));
    forwarder->endpoints_.push_back(std::make_unique<Endpoint>(
        url, *parsed, forwarder->config_, queue, std::move(*lanes), metrics, clock));
  }
  return forwarder;
}

Forwarder::~Forwarder() { stop(std::chrono::milliseconds(0)); }

std::vector<EndpointBacklog> Forwarder::backlog() const {
  std::vector<EndpointBacklog> backlog;
  for (const auto& endpoint : endpoints_) {
    backlog.push_back({.url = endpoint->url(), .oldest = endpoint->oldestRecord()});
  }
  return backlog;
}

void Forwarder::start() {
  for (auto& endpoint : endpoints_) endpoint->start();
}

absl::Status Forwarder::submit(std::span<const LanePart> parts) {
  if (parts.size() != lanes()) {
    return absl::InvalidArgumentError(
        common::concat("forwarding: a request cut into ", parts.size(), " lanes for ", lanes()));
  }
  size_t samples = 0;
  bool empty = true;
  for (const LanePart& part : parts) {
    samples += part.samples;
    empty = empty && part.fields.empty();
  }
  if (empty || endpoints_.empty()) return absl::OkStatus();
  thread_local std::vector<std::string> compressed;
  thread_local std::vector<Batch> batches;
  if (compressed.size() < parts.size()) compressed.resize(parts.size());
  batches.assign(parts.size(), Batch{});
  // snappy::Compress into a std::string zeroes its worst-case size first; compressing into a
  // buffer that only grows avoids that on every request.
  const auto compress = [](std::string_view raw, std::string& out, size_t lane_samples) {
    const size_t bound = snappy::MaxCompressedLength(raw.size());
    if (out.size() < bound) out.resize(bound);
    size_t length = 0;
    snappy::RawCompress(raw.data(), raw.size(), out.data(), &length);
    return Batch{std::string_view(out.data(), length), lane_samples};
  };
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].fields.empty()) {
      batches[i] = compress(parts[i].fields, compressed[i], parts[i].samples);
    }
  }
  for (const auto& endpoint : endpoints_) {
    if (!endpoint->hasRoomFor(batches)) {
      return absl::ResourceExhaustedError(
          common::concat("the delivery queue of ", endpoint->url(),
                         " is full (queue.maxDiskUsage): storage is down or slower than "
                         "ingestion; retry later"));
    }
  }
  batch_samples_->Observe(static_cast<double>(samples));
  // A 2xx means every endpoint's queue holds the request, so one queue failing the append (a cap
  // race with another request, a write error) fails the request and the client retries: the
  // queues that took it deliver it twice, which storage keeps as one sample per timestamp.
  for (auto& endpoint : endpoints_) TP_RETURN_IF_ERROR(endpoint->enqueue(batches));
  return absl::OkStatus();
}

void Forwarder::stop(std::chrono::milliseconds grace) {
  if (stopped_.exchange(true)) return;
  const auto deadline = clock_.now() + grace;
  for (auto& endpoint : endpoints_) endpoint->drainUntil(deadline);
  for (auto& endpoint : endpoints_) endpoint->finish();
}

}  // namespace tp::forward
