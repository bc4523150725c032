#pragma once
// Delivers enriched series to every storage endpoint. A request thread snappy-compresses its
// request's encoded WriteRequest fields into one batch per lane and writes them to each
// endpoint's disk queue (queue/disk_queue.h) before the request is answered, so an acknowledged
// sample survives kill -9, storage outages and restarts. With metricsWrite.concurrency N, each
// endpoint has N lanes (forward/lanes.h): a series always takes the same lane, and each lane's
// sender reads its queue in order, so every series arrives in order; batches queued for another
// N by an earlier run are all delivered before any later one. A sender keeps one keep-alive
// connection, retries 429/5xx/network errors with backoff (honouring Retry-After) and drops a
// batch only when storage rejects it with another 4xx (counted). Endpoints do not wait for each
// other, and ingestion never waits for a sender; when a queue is full, submit() refuses (or, with
// queue.whenFull=drop_oldest, the oldest batches make room, counted).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "config/config.h"
#include "queue/disk_queue.h"
#include "telemetry/telemetry.h"

namespace tp::forward {

// The disk queue options queue.* configures, for a queue in `dir` that is one of `lanes` sharing
// queue.maxDiskUsage (equally when empty: the forwarder then shares it as the lanes fill).
queue::DiskQueueOptions queueOptions(const config::QueueConfig& queue, std::filesystem::path dir,
                                     int lanes = 1);

// One lane's part of a request: WriteRequest fields (timeseries and metadata), and the samples
// they hold.
struct LanePart {
  std::string_view fields;
  size_t samples = 0;
};

struct Batch {
  std::string_view snappy;  // compressed WriteRequest
  size_t samples = 0;
};

// Where batches cut into lanes go: the forwarder, for every producer besides the metrics path
// (the training writer's series).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // As Forwarder::submit.
  virtual absl::Status submit(std::span<const LanePart> parts) = 0;
  virtual size_t lanes() const = 0;
};

// What waits for one endpoint: since when its oldest batch has been queued.
struct EndpointBacklog {
  std::string url;
  std::optional<queue::OldestRecord> oldest;  // none: nothing waits
};

class Forwarder : public BatchSink {
 public:
  // Opens (or resumes) each endpoint's queue under queue.dir.
  static absl::StatusOr<std::unique_ptr<Forwarder>> create(
      const config::MetricsWriteConfig& config, const config::QueueConfig& queue,
      telemetry::Telemetry& telemetry, const common::Clock& clock = common::systemClock());
  ~Forwarder() override;

  // Writes a request's parts, one per lane (lanes() of them, already cut by series: the
  // forwarder does not look into them), to every endpoint, one batch per part that is not empty;
  // returns once they are written (with queue.fsync=always, synced, several requests sharing one
  // fdatasync). ResourceExhausted when a queue that refuses when full has no room (nothing was
  // written); another error when any queue could not write its part (the client retries: the
  // queues that took theirs send them twice).
  absl::Status submit(std::span<const LanePart> parts) override;
  // The parts submit() takes: metricsWrite.concurrency.
  size_t lanes() const override { return static_cast<size_t>(config_.concurrency); }

  // Per endpoint, in configuration order. Thread-safe.
  std::vector<EndpointBacklog> backlog() const;

  void start();
  // Lets senders deliver until `grace` has passed, then cuts off retry waits and sends in
  // flight; what is not delivered by then stays queued for the next start.
  void stop(std::chrono::milliseconds grace);

 private:
  class Endpoint;
  Forwarder(const config::MetricsWriteConfig& config, telemetry::Telemetry& telemetry,
            const common::Clock& clock);

  config::MetricsWriteConfig config_;
  const common::Clock& clock_;
  prometheus::Histogram* batch_samples_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;

  std::atomic<bool> stopped_{false};
};

}  // namespace tp::forward
