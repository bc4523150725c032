#pragma once
// Wires the components together from a Config: telemetry, database, schema, cluster-state cache,
// routes, HTTP server. Owns their lifetimes and the order of start and stop.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "app/logs_handler.h"
#include "app/remote_write_handler.h"
#include "cache/cache_refresher.h"
#include "config/config.h"
#include "config/config_loader.h"
#include "forward/forwarder.h"
#include "http/router.h"
#include "http/server.h"
#include "spdlog/common.h"
#include "storage/database.h"
#include "storage/schema_maintainer.h"
#include "telemetry/telemetry.h"
#include "training/health_monitor.h"
#include "training/pattern_registry.h"

namespace tp::app {

// What a configuration reload did, by key path.
struct ReloadResult {
  std::vector<std::string> changed;         // reloadable keys now in effect
  std::vector<std::string> restart_needed;  // changed keys that keep their value until a restart
};

class App {
 public:
  // `sources` are read again by reload(): the same file, environment and flags.
  static absl::StatusOr<std::unique_ptr<App>> create(const config::Config& config,
                                                     config::ConfigSources sources = {});

  // Starts serving; logs the bound address.
  void start();
  // Graceful stop: readiness goes false, the listener closes, in-flight requests finish within
  // shutdown.gracePeriod. Returns false when the grace period ran out.
  bool stop();

  uint16_t port() const;

  // Reads the configuration sources again and applies the reloadable keys (auth.*, log.level,
  // training.patterns, training.stall.*, training.anomaly.*) without dropping a connection. A
  // configuration that does not load changes nothing; the error says why.
  absl::StatusOr<ReloadResult> reload();

 private:
  App(const config::Config& config, config::ConfigSources sources);
  void addRoutes();
  http::Response readiness(const http::RequestContext& context) const;
  // Every reason the processor is not ready, in the order readiness() tests them; empty: ready.
  std::vector<std::string> notReadyReasons() const;
  http::Response reloadResponse(const http::RequestContext& context);
  absl::StatusOr<ReloadResult> applyReload();

  const config::Config config_;  // as started: what restart_needed compares with
  const config::ConfigSources sources_;
  telemetry::Telemetry telemetry_;
  http::Router router_;
  std::unique_ptr<storage::Database> database_;
  std::unique_ptr<storage::SchemaMaintainer> schema_;
  std::unique_ptr<cache::CacheRefresher> cache_;
  std::unique_ptr<forward::Forwarder> forwarder_;
  enrich::SeriesTracer tracer_;
  enrich::ActiveMetrics active_metrics_;
  // The console's Overview; declared before the server, whose handlers read it.
  telemetry::RateRing rates_;
  telemetry::RateSampler rate_sampler_;
  std::unique_ptr<RemoteWriteHandler> remote_write_;
  std::unique_ptr<training::PatternRegistry> patterns_;
  std::unique_ptr<training::TrainingWriter> training_writer_;
  std::unique_ptr<training::HealthMonitor> health_;
  std::unique_ptr<LogsHandler> logs_;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> serving_{false};
  bool series_enabled_ = false;  // training series go to the forwarder

  http::Authenticator authenticator_;  // shares its credentials with the server's copy
  telemetry::ReloadMetrics reload_metrics_;
  std::mutex reload_mutex_;  // one reload at a time; guards applied_
  config::Config applied_;   // the last configuration loaded
};

spdlog::level::level_enum spdlogLevel(config::LogLevel level);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it starts later) so
// that waitForSignal() can receive them synchronously.
void blockStopSignals();
int waitForSignal();

}  // namespace tp::app
