#pragma once
// Delivers enriched series to every storage endpoint. Request threads append encoded
// WriteRequest fields; a batch is sealed (snappy-compressed once) when it holds
// metricsWrite.batchSamples samples or is metricsWrite.flushInterval old, and appended to each
// endpoint's disk queue (forward/disk_queue.h), where it survives storage outages and restarts.
// Each endpoint's senders read the queue in order, keep one keep-alive connection each, retry
// 429/5xx/network errors with backoff (honouring Retry-After) and drop a batch only when storage
// rejects it with another 4xx (counted). Endpoints do not wait for each other, and ingestion
// never waits for a sender; when a queue is full, admit() says so and the request is refused
// (or, with queue.whenFull=drop_oldest, the oldest batches make room, counted).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "telemetry/telemetry.h"

namespace tp::forward {

struct Batch {
  std::string_view snappy;  // compressed WriteRequest
  size_t samples = 0;
};

class Forwarder {
 public:
  // Opens (or resumes) each endpoint's queue under queue.dir.
  static absl::StatusOr<std::unique_ptr<Forwarder>> create(const config::MetricsWriteConfig& config,
                                                           const config::QueueConfig& queue,
                                                           telemetry::Telemetry& telemetry);
  ~Forwarder();

  // ResourceExhausted (-> 503) when a queue that refuses when full has no room for the open
  // batch plus `incoming_bytes` more.
  absl::Status admit(size_t incoming_bytes);
  // Appends WriteRequest fields (timeseries and metadata) holding `samples` samples.
  void append(std::string_view fields, size_t samples);

  void start();
  // Seals the current batch into the queues and lets senders deliver until `grace` has passed;
  // what is not delivered by then stays queued for the next start.
  void stop(std::chrono::milliseconds grace);

 private:
  class Endpoint;
  Forwarder(const config::MetricsWriteConfig& config, const config::QueueConfig& queue,
            telemetry::Telemetry& telemetry);
  // Moves the open batch into `sealed` (batch_mutex_ held); returns its sample count.
  size_t takeBatchLocked(std::string& sealed);
  void seal(std::string raw, size_t samples);
  void flushLoop();

  config::MetricsWriteConfig config_;
  config::QueueConfig queue_config_;
  prometheus::Histogram* batch_samples_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;

  std::mutex batch_mutex_;
  std::string batch_;
  std::string spare_;  // a sealed batch's memory, kept for the next one
  size_t batch_sample_count_ = 0;
  std::chrono::steady_clock::time_point batch_started_;

  std::mutex flush_mutex_;
  std::condition_variable flush_wakeup_;
  bool stopping_ = false;
  std::thread flusher_;
};

}  // namespace tp::forward
