#include "forward/forwarder.h"

#include <snappy.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <limits>

#include "common/strings.h"
#include "common/url.h"
#include "forward/disk_queue.h"
#include "forward/lanes.h"
#include "forward/remote_write_client.h"
#include "forward/retry_policy.h"
#include "spdlog/spdlog.h"

namespace tp::forward {

class Forwarder::Endpoint {
 public:
  // `queues` are the endpoint's lanes: the first `config.concurrency` take new batches, any
  // further ones hold what an earlier run with more lanes left and are only drained.
  Endpoint(std::string url, common::HttpUrl parsed, const config::MetricsWriteConfig& config,
           std::vector<std::unique_ptr<DiskQueue>> queues, telemetry::EndpointMetrics metrics)
      : url_(std::move(url)), parsed_(std::move(parsed)), config_(config), metrics_(metrics) {
    for (auto& queue : queues) {
      lanes_.push_back(std::make_unique<Lane>());
      lanes_.back()->queue = std::move(queue);
    }
    updateGauges();
  }

  ~Endpoint() {
    stopped_ = true;
    wakeAll();
    finish();
  }

  const std::string& url() const { return url_; }

  void start() {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      lanes_[i]->sender = std::thread([this, i] { sendLoop(*lanes_[i], i); });
    }
  }

  bool hasRoomFor(const std::vector<Batch>& batches) const {
    for (size_t i = 0; i < batches.size(); ++i) {
      if (!batches[i].snappy.empty() &&
          !lanes_[i]->queue->hasRoomFor(batches[i].snappy.size() + kQueueRecordOverhead)) {
        return false;
      }
    }
    return true;
  }

  // Appends each lane's batch to its queue. On failure, *lost_samples holds the samples of the
  // lanes that could not take theirs.
  absl::Status enqueue(const std::vector<Batch>& batches, size_t* lost_samples) {
    absl::Status first_failure;
    *lost_samples = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
      if (batches[i].snappy.empty()) continue;
      Lane& lane = *lanes_[i];
      uint64_t dropped_samples = 0;
      const absl::Status status = lane.queue->append(
          batches[i].snappy, static_cast<uint32_t>(batches[i].samples), &dropped_samples);
      if (dropped_samples > 0) {
        metrics_.batches_dropped_full->Increment();
        metrics_.samples_dropped->Increment(static_cast<double>(dropped_samples));
        warnRateLimited("queue full; dropped the oldest batches (queue.whenFull=drop_oldest)");
      }
      if (!status.ok()) {
        *lost_samples += batches[i].samples;
        if (first_failure.ok()) first_failure = status;
        continue;
      }
      std::lock_guard lock(lane.mutex);
      lane.wakeup.notify_one();
    }
    updateGauges();
    return first_failure;
  }

  // Another endpoint's queues took the batch, so the request is acknowledged: counted as lost
  // here.
  void countDropped(size_t samples, const absl::Status& why) {
    metrics_.batches_dropped_full->Increment();
    metrics_.samples_dropped->Increment(static_cast<double>(samples));
    warnRateLimited(common::concat("batch dropped: ", common::message(why)));
  }

  // Senders deliver what is queued until the deadline, then stop; the rest stays queued.
  void drainUntil(std::chrono::steady_clock::time_point deadline) {
    drain_deadline_ = deadline;
    draining_ = true;
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
    std::mutex mutex;  // for the wakeup only: the queue locks itself
    std::condition_variable wakeup;
    std::thread sender;
  };

  void wakeAll() {
    for (auto& lane : lanes_) {
      std::lock_guard lock(lane->mutex);  // a sender between its check and its wait sees it
      lane->wakeup.notify_all();
    }
  }

  void updateGauges() {
    uint64_t pending = 0;
    uint64_t bytes = 0;
    for (const auto& lane : lanes_) {
      pending += lane->queue->pendingRecords();
      bytes += lane->queue->bytesOnDisk();
    }
    metrics_.pending_batches->Set(static_cast<double>(pending));
    metrics_.queue_bytes->Set(static_cast<double>(bytes));
  }

  bool pastDeadline() const {
    return stopped_ || (draining_ && std::chrono::steady_clock::now() >= drain_deadline_.load());
  }

  // At most one warning per 10 s per endpoint, whichever thread notices the problem.
  void warnRateLimited(std::string_view message) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_warning_ms_.load(std::memory_order_relaxed);
    if (now - last < 10'000 || !last_warning_ms_.compare_exchange_strong(last, now)) return;
    spdlog::warn("remote write {}: {}", url_, message);
  }

  void sendLoop(Lane& lane, uint64_t seed) {
    RemoteWriteClient client(parsed_, config_.timeout);
    Backoff backoff(config_.retry_min_backoff, config_.retry_max_backoff, seed * 7919 + 17);
    QueuedRecord record;  // reused: its buffer grows once
    while (true) {
      {
        std::unique_lock lock(lane.mutex);
        bool taken = false;
        lane.wakeup.wait(lock, [&] {
          if (stopped_) return true;
          taken = lane.queue->next(nullptr, &record);
          return taken || draining_;
        });
        if (!taken || pastDeadline()) return;
      }
      if (!deliver(lane, client, backoff, record)) return;  // shutting down: it stays queued
      if (absl::Status status = lane.queue->commit(record.end); !status.ok()) {
        warnRateLimited(common::message(status));
      }
      updateGauges();
    }
  }

  // True once the batch is delivered or rejected for good; false when shutdown interrupted it.
  bool deliver(Lane& lane, RemoteWriteClient& client, Backoff& backoff, const QueuedRecord& batch) {
    for (int attempt = 1;; ++attempt) {
      // Dropped meanwhile to make room (queue.whenFull=drop_oldest) and counted as dropped:
      // sending it as well would count it twice.
      if (!lane.queue->holds(batch.end)) return true;
      const auto started = std::chrono::steady_clock::now();
      const SendResult result = client.post(batch.payload);
      metrics_.send_duration->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (result.status == 0) {
        metrics_.network_errors->Increment();
      } else {
        metrics_.requests[telemetry::statusClassIndex(result.status)]->Increment();
      }
      switch (classifyStatus(result.status)) {
        case SendOutcome::kDelivered:
          metrics_.bytes_sent->Increment(static_cast<double>(batch.payload.size()));
          metrics_.samples_sent->Increment(static_cast<double>(batch.samples));
          return true;
        case SendOutcome::kRejected:
          metrics_.batches_rejected->Increment();
          metrics_.samples_dropped->Increment(static_cast<double>(batch.samples));
          warnRateLimited(common::concat("storage rejected a batch of ", batch.samples,
                                         " samples with ", result.status, ": ",
                                         common::trim(result.body)));
          return true;
        case SendOutcome::kRetry:
          break;
      }
      warnRateLimited(result.status == 0
                          ? common::concat("send failed, retrying: ", result.error)
                          : common::concat("storage answered ", result.status, ", retrying"));
      const auto delay = backoff.next(attempt, parseRetryAfter(result.retry_after));
      std::unique_lock lock(lane.mutex);
      if (lane.wakeup.wait_for(lock, delay, [this] { return pastDeadline(); })) return false;
      metrics_.retries->Increment();
    }
  }

  const std::string url_;
  const common::HttpUrl parsed_;
  const config::MetricsWriteConfig& config_;
  telemetry::EndpointMetrics metrics_;
  std::vector<std::unique_ptr<Lane>> lanes_;

  std::atomic<bool> stopped_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::chrono::steady_clock::time_point> drain_deadline_{};
  std::atomic<int64_t> last_warning_ms_{std::numeric_limits<int64_t>::min() / 2};
  bool finished_ = false;
};

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

struct OpenedLanes {
  std::vector<std::unique_ptr<DiskQueue>> queues;
  uint64_t corrupt_records = 0;
};

// Opens (or resumes) an endpoint's lane queues: lane 0 in `name`, lane i in `name`-lane<i>.
// Lanes beyond `lanes` that an earlier run with a higher metricsWrite.concurrency left with
// batches are opened too, to be drained; empty ones are removed.
absl::StatusOr<OpenedLanes> openLanes(const config::QueueConfig& queue, const std::string& name,
                                      int lanes, const std::string& url) {
  const std::filesystem::path root(queue.dir);
  std::vector<std::filesystem::path> dirs;
  for (int i = 0; i < lanes; ++i) {
    dirs.push_back(root / (i == 0 ? name : fmt::format("{}-lane{}", name, i)));
  }
  const std::string leftover_prefix = name + "-lane";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with(leftover_prefix)) continue;
    const std::string index = file.substr(leftover_prefix.size());
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos ||
        index.size() > 4 || std::stoi(index) < lanes) {
      continue;
    }
    dirs.push_back(entry.path());
  }
  OpenedLanes opened;
  QueueRecovery total;
  for (size_t i = 0; i < dirs.size(); ++i) {
    QueueRecovery recovery;
    auto lane = DiskQueue::open(queueOptions(queue, dirs[i], lanes), &recovery);
    if (!lane.ok()) return lane.status();
    if (i >= static_cast<size_t>(lanes) && recovery.records == 0) {
      lane->reset();
      std::filesystem::remove_all(dirs[i], error);
      continue;
    }
    total.records += recovery.records;
    total.samples += recovery.samples;
    total.corrupt_records += recovery.corrupt_records;
    total.torn_bytes += recovery.torn_bytes;
    opened.queues.push_back(std::move(*lane));
  }
  if (total.records > 0 || total.corrupt_records > 0 || total.torn_bytes > 0) {
    spdlog::info(
        "remote write {}: resuming {} queued batches ({} samples); {} corrupt records skipped, "
        "{} bytes of an interrupted write cut",
        url, total.records, total.samples, total.corrupt_records, total.torn_bytes);
  }
  opened.corrupt_records = total.corrupt_records;
  return opened;
}

}  // namespace

DiskQueueOptions queueOptions(const config::QueueConfig& queue, std::filesystem::path dir,
                              int lanes) {
  const uint64_t max_bytes = queue.max_disk_usage / static_cast<uint64_t>(std::max(lanes, 1));
  return {
      .dir = std::move(dir),
      .max_bytes = max_bytes,
      // Small enough that deleting delivered segments keeps the disk near what is pending,
      // large enough to keep files few.
      .segment_bytes = std::clamp<uint64_t>(max_bytes / 8, 64 << 10, 64 << 20),
      .fsync_always = queue.fsync == "always",
      .when_full = queue.when_full == "drop_oldest" ? WhenFull::kDropOldest : WhenFull::kReject};
}

Forwarder::Forwarder(const config::MetricsWriteConfig& config, telemetry::Telemetry& telemetry)
    : config_(config), batch_samples_(telemetry.batchSamplesHistogram()) {}

absl::StatusOr<std::unique_ptr<Forwarder>> Forwarder::create(
    const config::MetricsWriteConfig& config, const config::QueueConfig& queue,
    telemetry::Telemetry& telemetry) {
  std::unique_ptr<Forwarder> forwarder(new Forwarder(config, telemetry));
  for (const std::string& configured : config.endpoints) {
    const std::string url = writeUrlFor(configured);
    auto parsed = common::parseHttpUrl(url);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          common::concat("metricsWrite.endpoints: ", common::message(parsed.status())));
    }
    auto queues = openLanes(queue, queueDirectoryName(url), config.concurrency, url);
    if (!queues.ok()) return queues.status();
    telemetry::EndpointMetrics metrics = telemetry.endpointMetrics(url);
    metrics.queue_corrupt_records->Increment(static_cast<double>(queues->corrupt_records));
    forwarder->endpoints_.push_back(std::make_unique<Endpoint>(url, *parsed, forwarder->config_,
                                                               std::move(queues->queues), metrics));
  }
  return forwarder;
}

Forwarder::~Forwarder() { stop(std::chrono::milliseconds(0)); }

void Forwarder::start() {
  for (auto& endpoint : endpoints_) endpoint->start();
}

absl::Status Forwarder::submit(std::string_view fields, size_t samples) {
  if (fields.empty() || endpoints_.empty()) return absl::OkStatus();
  const size_t lanes = static_cast<size_t>(config_.concurrency);
  thread_local LaneParts parts;
  thread_local std::vector<std::string> compressed;
  thread_local std::vector<Batch> batches;
  if (compressed.size() < lanes) compressed.resize(lanes);
  batches.assign(lanes, Batch{});
  // snappy::Compress into a std::string zeroes its worst-case size first; compressing into a
  // buffer that only grows avoids that on every request.
  const auto compress = [](std::string_view raw, std::string& out, size_t lane_samples) {
    const size_t bound = snappy::MaxCompressedLength(raw.size());
    if (out.size() < bound) out.resize(bound);
    size_t length = 0;
    snappy::RawCompress(raw.data(), raw.size(), out.data(), &length);
    return Batch{std::string_view(out.data(), length), lane_samples};
  };
  if (lanes == 1) {
    batches[0] = compress(fields, compressed[0], samples);
  } else {
    if (absl::Status split = splitIntoLanes(fields, lanes, parts); !split.ok()) return split;
    for (size_t i = 0; i < lanes; ++i) {
      if (!parts.fields[i].empty()) {
        batches[i] = compress(parts.fields[i], compressed[i], parts.samples[i]);
      }
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
  struct Failure {
    Endpoint* endpoint;
    absl::Status status;
    size_t lost_samples;
  };
  std::vector<Failure> failed;
  for (auto& endpoint : endpoints_) {
    size_t lost_samples = 0;
    if (absl::Status status = endpoint->enqueue(batches, &lost_samples); !status.ok()) {
      failed.push_back({endpoint.get(), std::move(status), lost_samples});
    }
  }
  // No endpoint took all of it: the sender retries (lanes that took theirs send duplicates).
  if (failed.size() == endpoints_.size()) return failed.front().status;
  for (const Failure& failure : failed) {
    failure.endpoint->countDropped(failure.lost_samples, failure.status);
  }
  return absl::OkStatus();
}

void Forwarder::stop(std::chrono::milliseconds grace) {
  if (stopped_.exchange(true)) return;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& endpoint : endpoints_) endpoint->drainUntil(deadline);
  for (auto& endpoint : endpoints_) endpoint->finish();
}

}  // namespace tp::forward
