#pragma once
// POST /logs, /v1/logs: a Fluent Bit batch (JSON array or JSON lines, optionally gzip) ->
// latency metrics per record, training lines -> StartTrain events and training_performance rows
// for every workload of the pod, handed to the training writer. The batch is committed only
// when all of it parsed: a 400/413/415 contributes nothing, and 503 (+ Retry-After) when the
// writer's buffer cannot take the batch's rows. 200 with the Lens envelope otherwise.

#include <memory>

#include "cache/cache_refresher.h"
#include "common/clock.h"
#include "config/config.h"
#include "http/router.h"
#include "ingest/fluentbit/log_batch.h"
#include "telemetry/telemetry.h"
#include "training/pattern_registry.h"
#include "training/training_writer.h"

namespace tp::app {

struct LogsHandlerOptions {
  size_t max_decoded_bytes = config::HttpConfig{}.max_decoded_bytes;
  ingest::LogBatchLimits limits;
};

class LogsHandler {
 public:
  // `clock`'s wall time is what the records' latency is measured against.
  // Each batch is read with the extractor `patterns` holds when it starts.
  LogsHandler(const cache::CacheRefresher& cache, training::PatternRegistry& patterns,
              training::TrainingWriter& writer, LogsHandlerOptions options,
              telemetry::LogsMetrics metrics, const common::Clock& clock = common::systemClock());

  http::Response handle(const http::RequestContext& context);

 private:
  http::Response reject(const http::RequestContext& context, const absl::Status& status);

  const cache::CacheRefresher& cache_;
  training::PatternRegistry& patterns_;
  training::TrainingWriter& writer_;
  LogsHandlerOptions options_;
  telemetry::LogsMetrics metrics_;
  const common::Clock& clock_;
};

}  // namespace tp::app
