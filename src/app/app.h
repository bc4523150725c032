#pragma once
// Wires the components together from a Config: telemetry, database, schema, cluster-state cache,
// routes, HTTP server. Owns their lifetimes and the order of start and stop.

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "app/logs_handler.h"
#include "app/remote_write_handler.h"
#include "cache/cache_refresher.h"
#include "config/config.h"
#include "forward/forwarder.h"
#include "http/router.h"
#include "http/server.h"
#include "storage/database.h"
#include "storage/schema_maintainer.h"
#include "telemetry/telemetry.h"
#include "training/health_monitor.h"
#include "training/pattern_registry.h"

namespace tp::app {

class App {
 public:
  static absl::StatusOr<std::unique_ptr<App>> create(const config::Config& config);

  // Starts serving; logs the bound address.
  void start();
  // Graceful stop: readiness goes false, the listener closes, in-flight requests finish within
  // shutdown.gracePeriod. Returns false when the grace period ran out.
  bool stop();

  uint16_t port() const;

 private:
  explicit App(const config::Config& config);
  void addRoutes();
  http::Response readiness(const http::RequestContext& context) const;

  config::Config config_;
  telemetry::Telemetry telemetry_;
  http::Router router_;
  std::unique_ptr<storage::Database> database_;
  std::unique_ptr<storage::SchemaMaintainer> schema_;
  std::unique_ptr<cache::CacheRefresher> cache_;
  std::unique_ptr<forward::Forwarder> forwarder_;
  enrich::SeriesTracer tracer_;
  enrich::ActiveMetrics active_metrics_;
  std::unique_ptr<RemoteWriteHandler> remote_write_;
  std::unique_ptr<training::PatternRegistry> patterns_;
  std::unique_ptr<training::TrainingWriter> training_writer_;
  std::unique_ptr<training::HealthMonitor> health_;
  std::unique_ptr<LogsHandler> logs_;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> serving_{false};
};

// Blocks SIGTERM and SIGINT in the calling thread (and the threads it starts later) so that
// waitForStopSignal() can receive them synchronously.
void blockStopSignals();
int waitForStopSignal();

}  // namespace tp::app
