#include "app/app.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <filesystem>
#include <random>
#include <thread>

#include "app/debug_api.h"
#include "app/pattern_debug_api.h"
#include "app/training_api.h"
#include "cache/cache_json.h"
#include "common/strings.h"
#include "common/version.h"
#include "console/cache_search.h"
#include "console/overview_api.h"
#include "console/patterns_api.h"
#include "console/run_chart.h"
#include "console/static_assets.h"
#include "fmt/ranges.h"
#include "http/envelope.h"
#include "http/tls.h"
#include "spdlog/spdlog.h"

namespace tp::app {
namespace beast_http = boost::beast::http;

namespace {

// Cores this process may run on: the affinity mask (taskset, cgroup cpusets), not the machine.
int usableCores() {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) return std::max(1, CPU_COUNT(&cpus));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The training-row journal lives beside the metric queues and never drops: a full journal makes
// logs 503, whatever queue.whenFull says for metrics.
queue::DiskQueueOptions journalOptions(const config::QueueConfig& queue) {
  queue::DiskQueueOptions options =
      forward::queueOptions(queue, std::filesystem::path(queue.dir) / "training-rows");
  options.when_full = queue::WhenFull::kReject;
  return options;
}

// Training series need somewhere to go: on by default when there are endpoints.
bool seriesEnabled(const config::Config& config) {
  const bool endpoints = !config.metrics_write.endpoints.empty();
  if (config.training.series.enabled.value_or(endpoints) && !endpoints) {
    spdlog::warn(
        "training.series.enabled is set but metricsWrite.endpoints is empty: no "
        "training series are sent");
  }
  return endpoints && config.training.series.enabled.value_or(true);
}

// This process, as the training-health lease names its holder: host, process and a random part
// (a restarted container may reuse both).
std::string replicaName() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return common::concat(host.data(), "/", getpid(), "/", random());
}

std::vector<std::string_view> healthEventNames() {
  std::vector<std::string_view> names;
  for (storage::HealthEventType type : storage::kHealthEventTypes) {
    names.push_back(storage::nameOf(type));
  }
  return names;
}

std::vector<std::string_view> runStateNames() {
  std::vector<std::string_view> names;
  for (storage::RunState state : storage::kRunStates) names.push_back(storage::nameOf(state));
  return names;
}

// The console's files hold no data: with bearer tokens only they are open, and the page asks for
// the token. With basic users, the browser's own prompt guards them.
std::vector<std::string> exemptPaths(const config::AuthConfig& auth) {
  std::vector<std::string> paths = auth.exempt_paths;
  if (auth.basic_users.empty()) {
    for (std::string& path : console::assetPaths()) paths.push_back(std::move(path));
  }
  return paths;
}

}  // namespace

App::App(const config::Config& config, config::ConfigSources sources)
    : config_(config),
      sources_(std::move(sources)),
      telemetry_(common::kVersion),
      router_(telemetry_),
      rates_(telemetry::overviewFlows()),
      rate_sampler_(telemetry_, rates_),
      authenticator_(config.auth.bearer_tokens, config.auth.basic_users, exemptPaths(config.auth)),
      reload_metrics_(telemetry_.reloadMetrics()),
      applied_(config) {}

absl::StatusOr<std::unique_ptr<App>> App::create(const config::Config& config,
                                                 config::ConfigSources sources) {
  std::unique_ptr<App> app(new App(config, std::move(sources)));
  auto database = storage::Database::create(config.db);
  if (!database.ok()) return database.status();
  app->database_ = std::move(*database);
  // Refused steps are retried on multiples of the refresh interval: an attempt at a unique key
  // scans its table.
  app->schema_ = std::make_unique<storage::SchemaMaintainer>(
      *app->database_, config.cache.refresh_interval, app->telemetry_.schemaMetrics());
  app->cache_ = std::make_unique<cache::CacheRefresher>(
      *app->database_, config.cache.refresh_interval, app->telemetry_.cacheMetrics(),
      std::filesystem::path(config.queue.dir) / "cluster-snapshot.bin");
  if (!config.metrics_write.endpoints.empty()) {
    auto forwarder =
        forward::Forwarder::create(config.metrics_write, config.queue, app->telemetry_);
    if (!forwarder.ok()) return forwarder.status();
    app->forwarder_ = std::move(*forwarder);
  }
  std::vector<std::string> drop_reasons(enrich::kDropReasonNames.begin(),
                                        enrich::kDropReasonNames.end());
  app->remote_write_ = std::make_unique<RemoteWriteHandler>(
      *app->cache_, app->forwarder_.get(), config.http.max_decoded_bytes,
      enrich::EnrichLimits{.max_output_bytes = config.http.max_enriched_bytes,
                           .max_series_label_bytes = config.http.max_series_label_bytes},
      app->telemetry_.remoteWriteMetrics(drop_reasons), app->tracer_, app->active_metrics_);
  auto extractor = training::PerformanceExtractor::create(config.training.patterns);
  if (!extractor.ok()) return extractor.status();
  const std::vector<std::string_view> formats = (*extractor)->formatNames();
  app->patterns_ = std::make_unique<training::PatternRegistry>(
      *app->database_, std::shared_ptr<const training::PerformanceExtractor>(*std::move(extractor)),
      training::PatternRegistryOptions{
          .reload_interval = config.training.pattern_reload_interval,
          .hit_flush_interval = config.training.pattern_hit_flush_interval,
          .shadow_sources = config.training.pattern_shadow_sources},
      app->telemetry_.trainingPatternMetrics());
  training::SeriesOutput series;
  app->series_enabled_ = seriesEnabled(config);
  if (app->series_enabled_) {
    series = {app->forwarder_.get(), app->telemetry_.trainingSeriesMetrics()};
  }
  auto training_writer = training::TrainingWriter::create(
      *app->database_, config.training, journalOptions(config.queue),
      std::filesystem::path(config.queue.dir) / "training-rejected.jsonl",
      app->telemetry_.trainingWriteMetrics(), series);
  if (!training_writer.ok()) return training_writer.status();
  app->training_writer_ = std::move(*training_writer);
  app->health_ = std::make_unique<training::HealthMonitor>(
      *app->database_, config.training, series.sink, replicaName(),
      app->telemetry_.trainingHealthMetrics(healthEventNames(), runStateNames()));
  std::vector<std::string> skip_reasons(ingest::kSkipReasonNames.begin(),
                                        ingest::kSkipReasonNames.end());
  app->logs_ = std::make_unique<LogsHandler>(
      *app->cache_, *app->patterns_, *app->training_writer_,
      LogsHandlerOptions{.max_decoded_bytes = config.http.max_decoded_bytes, .limits = {}},
      app->telemetry_.logsMetrics(skip_reasons, formats,
                                  static_cast<size_t>(config.logs.max_node_labels),
                                  std::vector<std::string>(training::kLifecycleTypeNames.begin(),
                                                           training::kLifecycleTypeNames.end())));
  app->addRoutes();
  const int threads = config.http.threads > 0 ? config.http.threads : usableCores();
  http::ServerOptions options{
      .address = config.http.listen_address,
      .port = static_cast<uint16_t>(config.http_port),
      .threads = threads,
      .max_body_bytes = config.http.max_body_bytes,
      .header_timeout = config.http.header_timeout,
      .body_timeout = config.http.body_timeout,
      .idle_timeout = config.http.idle_timeout,
      .max_connections = config.http.max_connections,
      .authenticator = app->authenticator_,
  };
  if (!config.http.tls_cert_file.empty()) {
    auto tls = http::loadTlsContext(config.http.tls_cert_file, config.http.tls_key_file);
    if (!tls.ok()) return tls.status();
    options.tls = std::move(*tls);
  }
  auto server = http::Server::create(std::move(options), app->router_);
  if (!server.ok()) return server.status();
  app->server_ = std::move(*server);
  return app;
}

void App::addRoutes() {
  router_.add("/healthz", {beast_http::verb::get, beast_http::verb::head},
              [](const http::RequestContext& ctx) {
                return http::jsonResponse(ctx.request, 200, http::envelopeOk(R"("alive")"));
              });
  router_.add("/readyz", {beast_http::verb::get, beast_http::verb::head},
              [this](const http::RequestContext& ctx) { return readiness(ctx); });
  const http::Handler remote_write = [this](const http::RequestContext& ctx) {
    return remote_write_->handle(ctx);
  };
  router_.add("/prometheus", {}, remote_write);  // the Lens route takes any method
  router_.add("/api/v1/write", {beast_http::verb::post}, remote_write);
  router_.add("/logs", {beast_http::verb::post},
              [this](const http::RequestContext& ctx) { return logs_->handle(ctx); });
  router_.add("/pods/cache", {beast_http::verb::get}, [this](const http::RequestContext& ctx) {
    const auto snapshot = cache_->snapshot();
    return http::jsonResponse(ctx.request, 200,
                              http::envelopeOkWriting([&snapshot](common::JsonWriter& writer) {
                                cache::writeDevicePodCache(writer, *snapshot);
                              }));
  });
  router_.add(
      "/pods/workload/cache", {beast_http::verb::get}, [this](const http::RequestContext& ctx) {
        const auto snapshot = cache_->snapshot();
        return http::jsonResponse(ctx.request, 200,
                                  http::envelopeOkWriting([&snapshot](common::JsonWriter& writer) {
                                    cache::writePodWorkloadCache(writer, *snapshot);
                                  }));
      });
  router_.add("/metrics", {beast_http::verb::get}, [this](const http::RequestContext& ctx) {
    return http::textResponse(ctx.request, 200, "text/plain; version=0.0.4; charset=utf-8",
                              telemetry_.exposition());
  });
  addTrainingRoutes(router_, *database_);
  addDebugRoutes(router_, *cache_,
                 {.max_output_bytes = config_.http.max_enriched_bytes,
                  .max_series_label_bytes = config_.http.max_series_label_bytes},
                 *patterns_, *database_,
                 series_enabled_ ? std::optional(config_.training.series) : std::nullopt, tracer_,
                 active_metrics_);
  addPatternDebugRoutes(router_, *patterns_);
  console::addStaticRoutes(router_);
  console::addCacheSearchRoute(router_, *cache_);
  console::addPatternsRoute(router_, *patterns_, *database_, telemetry_);
  console::addRunChartRoute(router_, *database_);
  console::addOverviewRoute(
      router_, {.telemetry = telemetry_,
                .rates = rates_,
                .cache = *cache_,
                .forwarder = forwarder_.get(),
                .not_ready_reasons = [this] { return notReadyReasons(); },
                .training_buffer_rows = static_cast<size_t>(config_.training.buffer_rows)});
  router_.add("/-/reload", {beast_http::verb::post},
              [this](const http::RequestContext& ctx) { return reloadResponse(ctx); });
}

http::Response App::reloadResponse(const http::RequestContext& context) {
  const absl::StatusOr<ReloadResult> result = reload();
  if (!result.ok()) {
    return http::errorResponse(context.request, 400, common::message(result.status()));
  }
  return http::jsonResponse(
      context.request, 200, http::envelopeOkWriting([&result](common::JsonWriter& writer) {
        const auto write_keys = [&writer](const std::vector<std::string>& keys) {
          writer.StartArray();
          for (const std::string& key : keys) common::writeString(writer, key);
          writer.EndArray();
        };
        writer.StartObject();
        writer.Key("reloaded");
        writer.Bool(true);
        writer.Key("changed");
        write_keys(result->changed);
        writer.Key("restart_needed");
        write_keys(result->restart_needed);
        writer.EndObject();
      }));
}

absl::StatusOr<ReloadResult> App::reload() {
  std::lock_guard lock(reload_mutex_);
  absl::StatusOr<ReloadResult> result = applyReload();
  if (!result.ok()) {
    reload_metrics_.failure->Increment();
    spdlog::error("configuration reload refused, the running configuration stays: {}",
                  common::message(result.status()));
    return result;
  }
  reload_metrics_.success->Increment();
  spdlog::info("configuration reloaded; changed: [{}]; needing a restart: [{}]",
               fmt::join(result->changed, ", "), fmt::join(result->restart_needed, ", "));
  return result;
}

absl::StatusOr<ReloadResult> App::applyReload() {
  absl::StatusOr<config::Config> next = config::loadConfig(sources_);
  if (!next.ok()) return next.status();
  // Built before anything is applied, so that a pattern that does not compile changes nothing.
  auto extractor = training::PerformanceExtractor::create(next->training.patterns);
  if (!extractor.ok()) {
    return absl::InvalidArgumentError(
        common::concat("config: invalid training.patterns: ", common::message(extractor.status())));
  }
  ReloadResult result;
  for (std::string& key : config::changedKeys(applied_, *next)) {
    if (config::isReloadable(key)) result.changed.push_back(std::move(key));
  }
  for (std::string& key : config::changedKeys(config_, *next)) {
    if (!config::isReloadable(key)) result.restart_needed.push_back(std::move(key));
  }
  const auto changed = [&result](std::string_view prefix) {
    return std::any_of(result.changed.begin(), result.changed.end(),
                       [prefix](const std::string& key) { return key.starts_with(prefix); });
  };
  if (changed("auth.")) {
    authenticator_.replace(next->auth.bearer_tokens, next->auth.basic_users,
                           exemptPaths(next->auth));
  }
  if (changed("log.level")) spdlog::set_level(spdlogLevel(next->log.level));
  if (changed("training.patterns")) {
    patterns_->replaceBase(
        std::shared_ptr<const training::PerformanceExtractor>(*std::move(extractor)));
  }
  if (changed("training.stall.") || changed("training.anomaly.")) {
    health_->setThresholds(next->training.stall, next->training.anomaly);
  }
  applied_ = *std::move(next);
  return result;
}

std::vector<std::string> App::notReadyReasons() const {
  std::vector<std::string> reasons;
  if (!serving_.load(std::memory_order_acquire)) reasons.emplace_back("shutting down");
  if (!cache_->loaded()) {
    reasons.emplace_back("cluster state not loaded yet (database unreachable, no saved state)");
  }
  if (training_writer_->pending() >= static_cast<size_t>(config_.training.buffer_rows)) {
    reasons.emplace_back("training row buffer full (database unavailable?)");
  }
  return reasons;
}

http::Response App::readiness(const http::RequestContext& context) const {
  if (const std::vector<std::string> reasons = notReadyReasons(); !reasons.empty()) {
    return http::errorResponse(context.request, 503, common::concat("not ready: ", reasons[0]));
  }
  const cache::SnapshotOrigin origin = cache_->origin();
  return http::jsonResponse(
      context.request, 200,
      http::envelopeOk(common::concat(R"({"status":"ready","clusterState":{"source":")",
                                      cache::sourceName(origin.source), R"(","ageSeconds":)",
                                      origin.age.count(), "}}")));
}

void App::start() {
  spdlog::info("database: {}", database_->description());
  // Before the first cache read, so that a new database has its tables by then.
  schema_->start();
  cache_->start();
  // After the schema's first pass, which creates training_log_pattern where it is missing.
  patterns_->start();
  if (forwarder_) forwarder_->start();
  training_writer_->start();
  health_->start();
  rate_sampler_.start();
  server_->start();
  serving_.store(true, std::memory_order_release);
  const auto endpoint = server_->localEndpoint();
  spdlog::info("telemetry-processor {} listening on {}:{}", common::kVersion,
               endpoint.address().to_string(), endpoint.port());
  if (!config_.auth.bearer_tokens.empty() || !config_.auth.basic_users.empty()) {
    spdlog::info("authentication required except on: {}",
                 fmt::join(config_.auth.exempt_paths, ", "));
  }
  if (config_.metrics_write.endpoints.empty()) {
    spdlog::info(
        "metric forwarding and training series disabled: no metricsWrite.endpoints "
        "configured");
  } else {
    spdlog::info("metric storage endpoints: {}", fmt::join(config_.metrics_write.endpoints, ", "));
  }
}

bool App::stop() {
  serving_.store(false, std::memory_order_release);
  spdlog::info("shutting down: finishing in-flight requests (grace period {} ms)",
               config_.shutdown.grace_period.count());
  // One grace period for the whole stop: requests first, then the senders get what is left.
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown.grace_period;
  const bool drained = server_->shutdown(config_.shutdown.grace_period);
  if (!drained) spdlog::warn("grace period over; open connections were closed");
  const auto remaining = [deadline] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  // The health detector and the writer first: they hand series to the forwarder until they stop,
  // and the forwarder syncs its queues once, when it stops.
  health_->stop();
  patterns_->stop();  // its last hit counts, once no batch is in flight
  training_writer_->stop(remaining());
  if (forwarder_) forwarder_->stop(remaining());
  cache_->stop();
  schema_->stop();
  rate_sampler_.stop();
  spdlog::info("stopped");
  return drained;
}

uint16_t App::port() const { return server_->localEndpoint().port(); }

spdlog::level::level_enum spdlogLevel(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::kTrace:
      return spdlog::level::trace;
    case config::LogLevel::kDebug:
      return spdlog::level::debug;
    case config::LogLevel::kInfo:
      return spdlog::level::info;
    case config::LogLevel::kWarn:
      return spdlog::level::warn;
    case config::LogLevel::kError:
      return spdlog::level::err;
    case config::LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

namespace {

sigset_t handledSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

}  // namespace

void blockStopSignals() {
  const sigset_t signals = handledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int waitForSignal() {
  const sigset_t signals = handledSignals();
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

}  // namespace tp::app
