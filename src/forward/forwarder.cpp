#include "forward/forwarder.h"

#include <snappy.h>

#include <atomic>
#include <limits>

#include "common/strings.h"
#include "common/url.h"
#include "forward/remote_write_client.h"
#include "forward/retry_policy.h"
#include "spdlog/spdlog.h"

namespace tp::forward {

class Forwarder::Endpoint {
 public:
  Endpoint(std::string url, common::HttpUrl parsed, const config::MetricsWriteConfig& config,
           telemetry::EndpointMetrics metrics)
      : url_(std::move(url)), parsed_(std::move(parsed)), config_(config), metrics_(metrics) {}

  ~Endpoint() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wakeup_.notify_all();
    finish();
  }

  void start() {
    for (int i = 0; i < config_.concurrency; ++i) {
      senders_.emplace_back([this, i] { sendLoop(static_cast<uint64_t>(i)); });
    }
  }

  void enqueue(std::shared_ptr<const Batch> batch) {
    {
      std::lock_guard lock(mutex_);
      if (pending_.size() >= static_cast<size_t>(config_.max_pending_batches)) {
        metrics_.batches_dropped_full->Increment();
        metrics_.samples_dropped->Increment(static_cast<double>(pending_.front()->samples));
        pending_.pop_front();
        warnRateLimited(
            "too many pending batches; dropped the oldest (metricsWrite.maxPendingBatches)");
      }
      pending_.push_back(std::move(batch));
      metrics_.pending_batches->Set(static_cast<double>(pending_.size()));
    }
    wakeup_.notify_one();
  }

  // Senders finish what is pending until the deadline, then stop.
  void drainUntil(std::chrono::steady_clock::time_point deadline) {
    {
      std::lock_guard lock(mutex_);
      drain_deadline_ = deadline;
      draining_ = true;
    }
    wakeup_.notify_all();
  }

  // Waits for the senders to stop (after drainUntil, or at destruction) and counts what was
  // left undelivered.
  void finish() {
    for (auto& sender : senders_) {
      if (sender.joinable()) sender.join();
    }
    senders_.clear();
    std::lock_guard lock(mutex_);
    for (const auto& batch : pending_) {
      metrics_.samples_dropped->Increment(static_cast<double>(batch->samples));
    }
    if (!pending_.empty()) {
      spdlog::warn("remote write {}: {} batches not delivered before shutdown", url_,
                   pending_.size());
    }
    pending_.clear();
    metrics_.pending_batches->Set(0);
  }

 private:
  bool mustStop() const {
    return stopped_ ||
           (draining_ && (pending_.empty() || std::chrono::steady_clock::now() >= drain_deadline_));
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
    while (true) {
      std::shared_ptr<const Batch> batch;
      {
        std::unique_lock lock(mutex_);
        wakeup_.wait(lock, [this] { return mustStop() || !pending_.empty(); });
        if (mustStop()) return;
        batch = pending_.front();
        pending_.pop_front();
        metrics_.pending_batches->Set(static_cast<double>(pending_.size()));
      }
      deliver(client, backoff, *batch);
    }
  }

  void deliver(RemoteWriteClient& client, Backoff& backoff, const Batch& batch) {
    for (int attempt = 1;; ++attempt) {
      const auto started = std::chrono::steady_clock::now();
      const SendResult result = client.post(batch.snappy);
      metrics_.send_duration->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (result.status == 0) {
        metrics_.network_errors->Increment();
      } else {
        metrics_.requests[telemetry::statusClassIndex(result.status)]->Increment();
      }
      switch (classifyStatus(result.status)) {
        case SendOutcome::kDelivered:
          metrics_.bytes_sent->Increment(static_cast<double>(batch.snappy.size()));
          metrics_.samples_sent->Increment(static_cast<double>(batch.samples));
          return;
        case SendOutcome::kRejected:
          metrics_.batches_rejected->Increment();
          metrics_.samples_dropped->Increment(static_cast<double>(batch.samples));
          warnRateLimited(common::concat("storage rejected a batch of ", batch.samples,
                                         " samples with ", result.status, ": ",
                                         common::trim(result.body)));
          return;
        case SendOutcome::kRetry:
          break;
      }
      warnRateLimited(result.status == 0
                          ? common::concat("send failed, retrying: ", result.error)
                          : common::concat("storage answered ", result.status, ", retrying"));
      const auto delay = backoff.next(attempt, parseRetryAfter(result.retry_after));
      std::unique_lock lock(mutex_);
      if (wakeup_.wait_for(lock, delay, [this] {
            return stopped_ || (draining_ && std::chrono::steady_clock::now() >= drain_deadline_);
          })) {
        // Shutting down: give the batch back so that it is counted with the rest.
        pending_.push_front(std::make_shared<const Batch>(batch));
        return;
      }
      metrics_.retries->Increment();
    }
  }

  const std::string url_;
  const common::HttpUrl parsed_;
  const config::MetricsWriteConfig& config_;
  telemetry::EndpointMetrics metrics_;

  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::deque<std::shared_ptr<const Batch>> pending_;
  bool stopped_ = false;
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::atomic<int64_t> last_warning_ms_{std::numeric_limits<int64_t>::min() / 2};
  std::vector<std::thread> senders_;
};

Forwarder::Forwarder(const config::MetricsWriteConfig& config, telemetry::Telemetry& telemetry)
    : config_(config), batch_samples_(telemetry.batchSamplesHistogram()) {}

absl::StatusOr<std::unique_ptr<Forwarder>> Forwarder::create(
    const config::MetricsWriteConfig& config, telemetry::Telemetry& telemetry) {
  std::unique_ptr<Forwarder> forwarder(new Forwarder(config, telemetry));
  for (const std::string& configured : config.endpoints) {
    const std::string url = writeUrlFor(configured);
    auto parsed = common::parseHttpUrl(url);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          common::concat("metricsWrite.endpoints: ", common::message(parsed.status())));
    }
    forwarder->endpoints_.push_back(std::make_unique<Endpoint>(url, *parsed, forwarder->config_,
                                                               telemetry.endpointMetrics(url)));
  }
  return forwarder;
}

Forwarder::~Forwarder() { stop(std::chrono::milliseconds(0)); }

void Forwarder::start() {
  for (auto& endpoint : endpoints_) endpoint->start();
  flusher_ = std::thread([this] { flushLoop(); });
}

void Forwarder::append(std::string_view fields, size_t samples) {
  if (fields.empty() || endpoints_.empty()) return;
  std::string sealed;
  size_t sealed_samples = 0;
  {
    std::lock_guard lock(batch_mutex_);
    if (batch_.empty()) batch_started_ = std::chrono::steady_clock::now();
    batch_.append(fields.data(), fields.size());
    batch_sample_count_ += samples;
    if (batch_sample_count_ >= static_cast<size_t>(config_.batch_samples)) {
      sealed_samples = takeBatchLocked(sealed);
    }
  }
  if (!sealed.empty()) seal(std::move(sealed), sealed_samples);
}

size_t Forwarder::takeBatchLocked(std::string& sealed) {
  sealed.swap(batch_);
  // The next batch will be about as large: grow it once, not by doubling from empty.
  batch_.reserve(sealed.capacity());
  return std::exchange(batch_sample_count_, 0);
}

void Forwarder::seal(std::string raw, size_t samples) {
  auto batch = std::make_shared<Batch>();
  snappy::Compress(raw.data(), raw.size(), &batch->snappy);
  batch->samples = samples;
  batch_samples_->Observe(static_cast<double>(samples));
  std::shared_ptr<const Batch> shared = std::move(batch);
  for (auto& endpoint : endpoints_) endpoint->enqueue(shared);
}

void Forwarder::flushLoop() {
  const auto tick = std::max(std::chrono::milliseconds(5), config_.flush_interval / 4);
  std::unique_lock lock(flush_mutex_);
  while (!stopping_) {
    flush_wakeup_.wait_for(lock, tick, [this] { return stopping_; });
    std::string sealed;
    size_t samples = 0;
    {
      std::lock_guard batch_lock(batch_mutex_);
      if (!batch_.empty() && (stopping_ || std::chrono::steady_clock::now() - batch_started_ >=
                                               config_.flush_interval)) {
        samples = takeBatchLocked(sealed);
      }
    }
    if (!sealed.empty()) seal(std::move(sealed), samples);
  }
}

void Forwarder::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(flush_mutex_);
    if (stopping_ && !flusher_.joinable()) return;
    stopping_ = true;
  }
  flush_wakeup_.notify_all();
  if (flusher_.joinable()) flusher_.join();  // seals the last batch on its way out
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& endpoint : endpoints_) endpoint->drainUntil(deadline);
  for (auto& endpoint : endpoints_) endpoint->finish();
}

}  // namespace tp::forward
