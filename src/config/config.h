#pragma once
// Typed configuration of the whole processor. Defaults live here and nowhere else; the loader
// (config/config_loader.h) fills these structs from file, environment and flags.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tp::config {

using std::chrono::milliseconds;

enum class DbDriver { kSqlite, kPostgres, kMysql };
enum class FsyncMode { kInterval, kAlways };
enum class WhenFull { kReject, kDropOldest };
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };
// What a configured training pattern recognises (docs/TRAINING.md).
enum class PatternType {
  kPerformance,
  kStart,
  kEnd,
  kCheckpointSaveStart,
  kCheckpointSaveEnd,
  kCheckpointLoadStart,
  kCheckpointLoadEnd,
  kIgnore
};

// How an enum value is spelled in files, environment and flags.
template <typename Enum>
struct EnumName {
  Enum value;
  std::string_view name;
};

inline constexpr std::array<EnumName<DbDriver>, 3> kDbDriverNames = {
    {{DbDriver::kSqlite, "sqlite"},
     {DbDriver::kPostgres, "postgres"},
     {DbDriver::kMysql, "mysql"}}};
inline constexpr std::array<EnumName<FsyncMode>, 2> kFsyncModeNames = {
    {{FsyncMode::kInterval, "interval"}, {FsyncMode::kAlways, "always"}}};
inline constexpr std::array<EnumName<WhenFull>, 2> kWhenFullNames = {
    {{WhenFull::kReject, "reject"}, {WhenFull::kDropOldest, "drop_oldest"}}};
inline constexpr std::array<EnumName<LogLevel>, 6> kLogLevelNames = {{{LogLevel::kTrace, "trace"},
                                                                      {LogLevel::kDebug, "debug"},
                                                                      {LogLevel::kInfo, "info"},
                                                                      {LogLevel::kWarn, "warn"},
                                                                      {LogLevel::kError, "error"},
                                                                      {LogLevel::kOff, "off"}}};
inline constexpr std::array<EnumName<PatternType>, 8> kPatternTypeNames = {
    {{PatternType::kPerformance, "performance"},
     {PatternType::kStart, "start"},
     {PatternType::kEnd, "end"},
     {PatternType::kCheckpointSaveStart, "checkpoint_save_start"},
     {PatternType::kCheckpointSaveEnd, "checkpoint_save_end"},
     {PatternType::kCheckpointLoadStart, "checkpoint_load_start"},
     {PatternType::kCheckpointLoadEnd, "checkpoint_load_end"},
     {PatternType::kIgnore, "ignore"}}};

template <typename Enum, size_t N>
constexpr std::string_view nameOf(const std::array<EnumName<Enum>, N>& names, Enum value) {
  for (const EnumName<Enum>& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return {};
}

// The port db.port 0 stands for.
constexpr int standardPort(DbDriver driver) {
  return driver == DbDriver::kPostgres ? 5432 : driver == DbDriver::kMysql ? 3306 : 0;
}

struct HttpConfig {
  std::string listen_address = "0.0.0.0";
  int threads = 0;  // 0 = one per core
  uint64_t max_body_bytes = 32ull << 20;
  uint64_t max_decoded_bytes = 64ull << 20;
  // What enrichment may write for one request, and the labels of one resolved series: a small
  // body can reference one large 2.0 symbol from every label, or a pod with many workloads.
  uint64_t max_enriched_bytes = 64ull << 20;
  uint64_t max_series_label_bytes = 256ull << 10;
  milliseconds header_timeout{10'000};
  milliseconds body_timeout{30'000};
  milliseconds idle_timeout{60'000};
  int max_connections = 10'000;
  std::string tls_cert_file;  // both set: the listener speaks TLS only
  std::string tls_key_file;
};

struct DbConfig {
  DbDriver driver = DbDriver::kSqlite;
  std::string path = "data/telemetry-processor.db";
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = standardPort(driver)
  std::string user_name;
  std::string password;
  std::string db_name = "primus-lens";
  bool enable_ssl = false;
  int pool_size = 4;
  milliseconds timeout{10'000};  // connect and per-statement limit
};

struct MetricsWriteConfig {
  std::vector<std::string> endpoints;  // empty = forwarding disabled
  int concurrency = 1;                 // sends in flight per endpoint, one lane each
  milliseconds timeout{30'000};
  milliseconds retry_min_backoff{100};
  milliseconds retry_max_backoff{30'000};
};

struct CacheConfig {
  milliseconds refresh_interval{20'000};
};

struct QueueConfig {
  std::string dir = "data/queue";
  uint64_t max_disk_usage = 1ull << 30;    // per storage endpoint
  FsyncMode fsync = FsyncMode::kInterval;  // interval: the queue syncs every second
  WhenFull when_full = WhenFull::kReject;  // reject: 503
};

// A log format added in configuration: RE2 with named groups called like the SPEC §5 fields
// ("current_iteration", "lm_loss", ...) for performance lines, or `iteration`, `path` and
// `duration_ms` for lifecycle lines. `prefilter`, when set, is a literal that every matching line
// contains; lines without it never reach the regex.
struct TrainingPattern {
  std::string name;
  std::string regex;
  std::string prefilter;
  PatternType type = PatternType::kPerformance;
};

// Training series: every performance line also becomes remote-write samples (docs/TRAINING.md).
struct TrainingSeriesConfig {
  // Unset: on when metricsWrite.endpoints are configured.
  std::optional<bool> enabled;
  int max_per_workload = 500;  // distinct series; beyond: dropped and counted
};

// Training health (docs/TRAINING.md): when a run counts as stalled, and what is an anomaly.
struct TrainingStallConfig {
  double factor = 10;  // × the run's median interval between logged iterations
  milliseconds minimum{5 * 60'000};
  // An in-progress checkpoint save or load holds a stall off for at most this long.
  milliseconds checkpoint_grace{30 * 60'000};
  milliseconds check_interval{30'000};
};

struct TrainingAnomalyConfig {
  double loss_spike_factor = 3;  // × the median loss of the last `window` iterations
  int window = 20;               // logged iterations
  double throughput_drop = 0.3;  // below (1 - this) × the run's median
  int consecutive = 5;           // logged iterations in a row below it
};

struct TrainingConfig {
  std::vector<TrainingPattern> patterns;
  int buffer_rows = 1'000'000;  // rows and events journaled for the database; beyond: 503
  int batch_rows = 500;         // rows per INSERT statement
  milliseconds flush_interval{200};
  milliseconds retry_max_backoff{10'000};
  TrainingSeriesConfig series;
  TrainingStallConfig stall;
  TrainingAnomalyConfig anomaly;
  // The training_log_pattern table (docs/TRAINING.md, "Patterns in the database").
  milliseconds pattern_reload_interval{30'000};
  milliseconds pattern_hit_flush_interval{10'000};  // per pattern, at most this often
  // Rows of these sources are evaluated and counted but decide nothing (shadow mode).
  std::vector<std::string> pattern_shadow_sources = {"autodiscovered"};
};

struct LogsConfig {
  int max_node_labels = 1'000;  // distinct `node` label values of the latency metrics
};

// Optional authentication of requests; none when both lists are empty.
struct AuthConfig {
  std::vector<std::string> bearer_tokens;
  std::vector<std::string> basic_users;  // "user:password"
  std::vector<std::string> exempt_paths = {"/healthz", "/readyz"};
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
};

struct ShutdownConfig {
  milliseconds grace_period{10'000};
};

struct Config {
  int http_port = 8989;
  HttpConfig http;
  DbConfig db;
  MetricsWriteConfig metrics_write;
  CacheConfig cache;
  QueueConfig queue;
  LogsConfig logs;
  TrainingConfig training;
  AuthConfig auth;
  LogConfig log;
  ShutdownConfig shutdown;
};

}  // namespace tp::config
