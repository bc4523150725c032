#pragma once
// Delivers enriched series to every storage endpoint. Request threads append encoded
// WriteRequest fields; a batch is sealed (snappy-compressed once) when it holds
// metricsWrite.batchSamples samples or is metricsWrite.flushInterval old, and handed to each
// endpoint's senders. A sender keeps one keep-alive connection, retries 429/5xx/network errors
// with backoff (honouring Retry-After) and drops a batch only when storage rejects it with
// another 4xx or when too many batches are pending (both counted). Endpoints do not wait for
// each other, and ingestion never waits for a sender.

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
  std::string snappy;  // compressed WriteRequest
  size_t samples = 0;
};

class Forwarder {
 public:
  static absl::StatusOr<std::unique_ptr<Forwarder>> create(const config::MetricsWriteConfig& config,
                                                           telemetry::Telemetry& telemetry);
  ~Forwarder();

  // Appends WriteRequest fields (timeseries and metadata) holding `samples` samples.
  void append(std::string_view fields, size_t samples);

  void start();
  // Seals the current batch and lets senders deliver what is pending until `grace` has passed;
  // what is still pending then is dropped and counted.
  void stop(std::chrono::milliseconds grace);

 private:
  class Endpoint;
  Forwarder(const config::MetricsWriteConfig& config, telemetry::Telemetry& telemetry);
  // Moves the open batch into `sealed` (batch_mutex_ held); returns its sample count.
  size_t takeBatchLocked(std::string& sealed);
  void seal(std::string raw, size_t samples);
  void flushLoop();

  config::MetricsWriteConfig config_;
  prometheus::Histogram* batch_samples_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;

  std::mutex batch_mutex_;
  std::string batch_;
  size_t batch_sample_count_ = 0;
  std::chrono::steady_clock::time_point batch_started_;

  std::mutex flush_mutex_;
  std::condition_variable flush_wakeup_;
  bool stopping_ = false;
  std::thread flusher_;
};

}  // namespace tp::forward
