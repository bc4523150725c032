#include "forward/forwarder.h"

#include <snappy.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <filesystem>
#include <limits>

#include "common/strings.h"
#include "common/url.h"
#include "forward/disk_queue.h"
#include "forward/remote_write_client.h"
#include "forward/retry_policy.h"
#include "spdlog/spdlog.h"

namespace tp::forward {

class Forwarder::Endpoint {
 public:
  Endpoint(std::string url, common::HttpUrl parsed, const config::MetricsWriteConfig& config,
           std::unique_ptr<DiskQueue> queue, telemetry::EndpointMetrics metrics)
      : url_(std::move(url)),
        parsed_(std::move(parsed)),
        config_(config),
        queue_(std::move(queue)),
        metrics_(metrics) {
    updateGauges();
  }

  ~Endpoint() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wakeup_.notify_all();
    finish();
  }

  const std::string& url() const { return url_; }

  void start() {
    for (int i = 0; i < config_.concurrency; ++i) {
      senders_.emplace_back([this, i] { sendLoop(static_cast<uint64_t>(i)); });
    }
  }

  bool hasRoomFor(uint64_t bytes) const { return queue_->hasRoomFor(bytes); }

  absl::Status enqueue(const Batch& batch) {
    uint64_t dropped_samples = 0;
    const absl::Status status =
        queue_->append(batch.snappy, static_cast<uint32_t>(batch.samples), &dropped_samples);
    if (status.ok() && dropped_samples > 0) {
      metrics_.batches_dropped_full->Increment();
      metrics_.samples_dropped->Increment(static_cast<double>(dropped_samples));
      warnRateLimited("queue full; dropped the oldest batches (queue.whenFull=drop_oldest)");
    }
    updateGauges();
    if (status.ok()) wakeup_.notify_one();
    return status;
  }

  // Another endpoint's queue took the batch, so the request is acknowledged: counted as lost here.
  void countDropped(const Batch& batch, const absl::Status& why) {
    metrics_.batches_dropped_full->Increment();
    metrics_.samples_dropped->Increment(static_cast<double>(batch.samples));
    warnRateLimited(common::concat("batch dropped: ", common::message(why)));
  }

  // Senders deliver what is queued until the deadline, then stop; the rest stays queued.
  void drainUntil(std::chrono::steady_clock::time_point deadline) {
    {
      std::lock_guard lock(mutex_);
      drain_deadline_ = deadline;
      draining_ = true;
    }
    wakeup_.notify_all();
  }

  // Waits for the senders to stop (after drainUntil, or at destruction).
  void finish() {
    if (std::exchange(finished_, true)) return;
    for (auto& sender : senders_) {
      if (sender.joinable()) sender.join();
    }
    senders_.clear();
    if (absl::Status status = queue_->sync(); !status.ok())
      warnRateLimited(common::message(status));
    if (const uint64_t left = queue_->pendingRecords(); left > 0) {
      spdlog::info("remote write {}: {} batches stay queued for the next start", url_, left);
    }
  }

 private:
  // A record a sender has taken; committed once it and every earlier one are done.
  struct Claim {
    QueuePosition end;
    bool done = false;
  };

  void updateGauges() {
    metrics_.pending_batches->Set(static_cast<double>(queue_->pendingRecords()));
    metrics_.queue_bytes->Set(static_cast<double>(queue_->bytesOnDisk()));
  }

  bool pastDeadline() const {
    return stopped_ || (draining_ && std::chrono::steady_clock::now() >= drain_deadline_);
  }

  // Takes the next unclaimed record (mutex_ held).
  bool claim(QueuedRecord* record) {
    const QueuePosition* after = claims_.empty() ? nullptr : &claims_.back().end;
    if (!queue_->next(after, record)) return false;
    claims_.push_back({record->end, false});
    return true;
  }

  // Marks the claim ending at `end` done and commits the done prefix, in order (mutex_ held).
  void complete(const QueuePosition& end) {
    for (Claim& claim : claims_) {
      if (claim.end.segment == end.segment && claim.end.end_offset == end.end_offset) {
        claim.done = true;
      }
    }
    while (!claims_.empty() && claims_.front().done) {
      if (absl::Status status = queue_->commit(claims_.front().end); !status.ok()) {
        warnRateLimited(common::message(status));
      }
      claims_.pop_front();
    }
    updateGauges();
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

  void sendLoop(uint64_t seed) {
    RemoteWriteClient client(parsed_, config_.timeout);
    Backoff backoff(config_.retry_min_backoff, config_.retry_max_backoff, seed * 7919 + 17);
    QueuedRecord record;  // reused: its buffer grows once
    while (true) {
      {
        std::unique_lock lock(mutex_);
        bool claimed = false;
        wakeup_.wait(lock, [&] {
          if (stopped_) return true;
          claimed = claim(&record);
          return claimed || draining_;
        });
        if (!claimed || pastDeadline()) return;
      }
      if (!deliver(client, backoff, record)) return;  // shutting down: it stays queued
      std::lock_guard lock(mutex_);
      complete(record.end);
    }
  }

  // True once the batch is delivered or rejected for good; false when shutdown interrupted it.
  bool deliver(RemoteWriteClient& client, Backoff& backoff, const QueuedRecord& batch) {
    for (int attempt = 1;; ++attempt) {
      // Dropped meanwhile to make room (queue.whenFull=drop_oldest) and counted as dropped:
      // sending it as well would count it twice.
      if (!queue_->holds(batch.end)) return true;
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
      std::unique_lock lock(mutex_);
      if (wakeup_.wait_for(lock, delay, [this] { return pastDeadline(); })) return false;
      metrics_.retries->Increment();
    }
  }

  const std::string url_;
  const common::HttpUrl parsed_;
  const config::MetricsWriteConfig& config_;
  const std::unique_ptr<DiskQueue> queue_;
  telemetry::EndpointMetrics metrics_;

  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::deque<Claim> claims_;
  bool stopped_ = false;
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::atomic<int64_t> last_warning_ms_{std::numeric_limits<int64_t>::min() / 2};
  std::vector<std::thread> senders_;
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

}  // namespace

DiskQueueOptions queueOptions(const config::QueueConfig& queue, std::filesystem::path dir) {
  return {
      .dir = std::move(dir),
      .max_bytes = queue.max_disk_usage,
      // Small enough that deleting delivered segments keeps the disk near what is pending,
      // large enough to keep files few.
      .segment_bytes = std::clamp<uint64_t>(queue.max_disk_usage / 8, 64 << 10, 64 << 20),
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
    const DiskQueueOptions options =
        queueOptions(queue, std::filesystem::path(queue.dir) / queueDirectoryName(url));
    QueueRecovery recovery;
    auto opened = DiskQueue::open(options, &recovery);
    if (!opened.ok()) return opened.status();
    telemetry::EndpointMetrics metrics = telemetry.endpointMetrics(url);
    if (recovery.records > 0 || recovery.corrupt_records > 0 || recovery.torn_bytes > 0) {
      spdlog::info(
          "remote write {}: resuming {} queued batches ({} samples); {} corrupt records skipped, "
          "{} bytes of an interrupted write cut",
          url, recovery.records, recovery.samples, recovery.corrupt_records, recovery.torn_bytes);
    }
    metrics.queue_corrupt_records->Increment(static_cast<double>(recovery.corrupt_records));
    forwarder->endpoints_.push_back(
        std::make_unique<Endpoint>(url, *parsed, forwarder->config_, std::move(*opened), metrics));
  }
  return forwarder;
}

Forwarder::~Forwarder() { stop(std::chrono::milliseconds(0)); }

void Forwarder::start() {
  for (auto& endpoint : endpoints_) endpoint->start();
}

absl::Status Forwarder::submit(std::string_view fields, size_t samples) {
  if (fields.empty() || endpoints_.empty()) return absl::OkStatus();
  // snappy::Compress into a std::string zeroes its worst-case size first; compressing into a
  // buffer that only grows avoids that on every request.
  thread_local std::string compressed;
  const size_t bound = snappy::MaxCompressedLength(fields.size());
  if (compressed.size() < bound) compressed.resize(bound);
  size_t length = 0;
  snappy::RawCompress(fields.data(), fields.size(), compressed.data(), &length);
  const Batch batch{std::string_view(compressed.data(), length), samples};
  for (const auto& endpoint : endpoints_) {
    if (!endpoint->hasRoomFor(length + kQueueRecordOverhead)) {
      return absl::ResourceExhaustedError(
          common::concat("the delivery queue of ", endpoint->url(),
                         " is full (queue.maxDiskUsage): storage is down or slower than "
                         "ingestion; retry later"));
    }
  }
  batch_samples_->Observe(static_cast<double>(samples));
  std::vector<std::pair<Endpoint*, absl::Status>> failed;
  for (auto& endpoint : endpoints_) {
    if (absl::Status status = endpoint->enqueue(batch); !status.ok()) {
      failed.emplace_back(endpoint.get(), std::move(status));
    }
  }
  if (failed.size() == endpoints_.size()) return failed.front().second;
  for (const auto& [endpoint, status] : failed) endpoint->countDropped(batch, status);
  return absl::OkStatus();
}

void Forwarder::stop(std::chrono::milliseconds grace) {
  if (stopped_.exchange(true)) return;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& endpoint : endpoints_) endpoint->drainUntil(deadline);
  for (auto& endpoint : endpoints_) endpoint->finish();
}

}  // namespace tp::forward
