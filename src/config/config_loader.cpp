#include "config/config_loader.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>

#include "common/status.h"
#include "common/strings.h"
#include "common/units.h"
#include "common/url.h"
#include "fmt/ranges.h"
#include "yaml-cpp/yaml.h"

namespace tp::config {
namespace {

constexpr size_t kMaxConfigFileBytes = 1 << 20;
constexpr int kMaxNesting = 8;

// A value as written by the user: one scalar, or a list (YAML sequence / comma-separated).
struct RawValue {
  std::vector<std::string> items;
  bool is_list = false;
  std::string origin;  // "file x.yaml line 3", "env TP_HTTPPORT", "flag --httpPort"
};

using Setter = std::function<absl::Status(Config&, const RawValue&)>;
using Printer = std::function<std::string(const Config&)>;

struct KeyDef {
  std::string path;
  std::string help;
  Setter set;
  Printer print;
  // Takes a list of maps; its value arrives as YAML/JSON text (file, env and flag alike).
  bool structured = false;
};

absl::StatusOr<std::string> scalarOf(const RawValue& raw) {
  if (raw.is_list || raw.items.size() != 1) {
    return absl::InvalidArgumentError("expected a single value, got a list");
  }
  return raw.items.front();
}

template <typename Access>
KeyDef stringKey(std::string path, std::string help, Access access) {
  return {std::move(path), std::move(help),
          [access](Config& config, const RawValue& raw) -> absl::Status {
            auto value = scalarOf(raw);
            if (!value.ok()) return value.status();
            access(config) = *value;
            return absl::OkStatus();
          },
          [access](const Config& config) { return std::string(access(config)); }};
}

// One of `names` (config/config.h), spelled as they are.
template <typename Enum, size_t N, typename Access>
KeyDef enumKey(std::string path, std::string help, Access access,
               const std::array<EnumName<Enum>, N>& names) {
  return {
      std::move(path), std::move(help),
      [access, names](Config& config, const RawValue& raw) -> absl::Status {
        auto value = scalarOf(raw);
        if (!value.ok()) return value.status();
        std::vector<std::string_view> allowed;
        for (const EnumName<Enum>& entry : names) {
          if (entry.name == *value) {
            access(config) = entry.value;
            return absl::OkStatus();
          }
          allowed.push_back(entry.name);
        }
        return absl::InvalidArgumentError(common::concat(
            "'", *value, "' is not one of: ", fmt::format("{}", fmt::join(allowed, ", "))));
      },
      [access, names](const Config& config) { return std::string(nameOf(names, access(config))); }};
}

template <typename Access>
KeyDef intKey(std::string path, std::string help, Access access, int min, int max) {
  return {
      std::move(path), std::move(help),
      [access, min, max](Config& config, const RawValue& raw) -> absl::Status {
        auto value = scalarOf(raw);
        if (!value.ok()) return value.status();
        int number = 0;
        const auto [end, ec] =
            std::from_chars(value->data(), value->data() + value->size(), number);
        if (ec != std::errc() || end != value->data() + value->size()) {
          return absl::InvalidArgumentError(common::concat("'", *value, "' is not an integer"));
        }
        if (number < min || number > max) {
          return absl::InvalidArgumentError(common::concat(number, " is outside ", min, "..", max));
        }
        access(config) = number;
        return absl::OkStatus();
      },
      [access](const Config& config) { return common::concat(access(config)); }};
}

// A real number in min..max (both included).
template <typename Access>
KeyDef numberKey(std::string path, std::string help, Access access, double min, double max) {
  return {
      std::move(path), std::move(help),
      [access, min, max](Config& config, const RawValue& raw) -> absl::Status {
        auto value = scalarOf(raw);
        if (!value.ok()) return value.status();
        double number = 0;
        const auto [end, ec] =
            std::from_chars(value->data(), value->data() + value->size(), number);
        if (ec != std::errc() || end != value->data() + value->size() || !std::isfinite(number)) {
          return absl::InvalidArgumentError(common::concat("'", *value, "' is not a number"));
        }
        if (number < min || number > max) {
          return absl::InvalidArgumentError(common::concat(number, " is outside ", min, "..", max));
        }
        access(config) = number;
        return absl::OkStatus();
      },
      [access](const Config& config) { return common::concat(access(config)); }};
}

absl::StatusOr<bool> parseBool(const std::string& value) {
  if (value == "true" || value == "1" || value == "yes") return true;
  if (value == "false" || value == "0" || value == "no") return false;
  return absl::InvalidArgumentError(
      common::concat("'", value, "' is not a boolean (true or false)"));
}

template <typename Access>
KeyDef boolKey(std::string path, std::string help, Access access) {
  return {
      std::move(path), std::move(help),
      [access](Config& config, const RawValue& raw) -> absl::Status {
        auto value = scalarOf(raw);
        if (!value.ok()) return value.status();
        auto flag = parseBool(*value);
        if (!flag.ok()) return flag.status();
        access(config) = *flag;
        return absl::OkStatus();
      },
      [access](const Config& config) { return std::string(access(config) ? "true" : "false"); }};
}

// A boolean that may be left to the processor: "auto" (or empty) unsets it.
template <typename Access>
KeyDef autoBoolKey(std::string path, std::string help, Access access) {
  return {std::move(path), std::move(help),
          [access](Config& config, const RawValue& raw) -> absl::Status {
            auto value = scalarOf(raw);
            if (!value.ok()) return value.status();
            if (value->empty() || *value == "auto") {
              access(config).reset();
              return absl::OkStatus();
            }
            auto flag = parseBool(*value);
            if (!flag.ok()) {
              return absl::InvalidArgumentError(
                  common::concat("'", *value, "' is not a boolean (true, false or auto)"));
            }
            access(config) = *flag;
            return absl::OkStatus();
          },
          [access](const Config& config) {
            const std::optional<bool>& flag = access(config);
            return std::string(!flag ? "auto" : *flag ? "true" : "false");
          }};
}

template <typename Access>
KeyDef sizeKey(std::string path, std::string help, Access access, uint64_t min) {
  return {std::move(path), std::move(help),
          [access, min](Config& config, const RawValue& raw) -> absl::Status {
            auto value = scalarOf(raw);
            if (!value.ok()) return value.status();
            auto bytes = common::parseByteSize(*value);
            if (!bytes.ok()) return bytes.status();
            if (*bytes < min) {
              return absl::InvalidArgumentError(common::concat(
                  "'", *value, "' is below the minimum of ", common::formatByteSize(min)));
            }
            access(config) = *bytes;
            return absl::OkStatus();
          },
          [access](const Config& config) { return common::formatByteSize(access(config)); }};
}

template <typename Access>
KeyDef durationKey(std::string path, std::string help, Access access, milliseconds min) {
  return {std::move(path), std::move(help),
          [access, min](Config& config, const RawValue& raw) -> absl::Status {
            auto value = scalarOf(raw);
            if (!value.ok()) return value.status();
            auto duration = common::parseDuration(*value);
            if (!duration.ok()) return duration.status();
            if (*duration < min) {
              return absl::InvalidArgumentError(common::concat(
                  "'", *value, "' is below the minimum of ", common::formatDuration(min)));
            }
            access(config) = *duration;
            return absl::OkStatus();
          },
          [access](const Config& config) { return common::formatDuration(access(config)); }};
}

absl::Status checkEndpoint(const std::string& endpoint) {
  auto url = common::parseHttpUrl(endpoint);
  if (!url.ok()) return url.status();
  if (url->scheme != "http") {
    return absl::InvalidArgumentError(
        common::concat("'", endpoint, "': only http:// storage endpoints are supported"));
  }
  return absl::OkStatus();
}

// A list given as a YAML sequence or as comma-separated values; `check` validates each item.
template <typename Access>
KeyDef listKey(std::string path, std::string help, Access access,
               const std::function<absl::Status(const std::string&)>& check) {
  return {
      std::move(path), std::move(help),
      [access, check](Config& config, const RawValue& raw) -> absl::Status {
        std::vector<std::string> items;
        for (const std::string& item : raw.items) {
          for (std::string_view part : common::splitTrimmed(item, ',')) {
            std::string value(part);
            TP_RETURN_IF_ERROR(check(value));
            items.push_back(std::move(value));
          }
        }
        access(config) = std::move(items);
        return absl::OkStatus();
      },
      [access](const Config& config) { return fmt::format("{}", fmt::join(access(config), ",")); }};
}

absl::Status readPattern(const YAML::Node& item, TrainingPattern* pattern) {
  if (!item.IsMap()) return absl::InvalidArgumentError("each pattern must be a map");
  std::optional<std::string> type;  // checked once the name is known, to name the pattern
  for (const auto& entry : item) {
    if (!entry.first.IsScalar()) return absl::InvalidArgumentError("pattern fields need names");
    const std::string field = entry.first.Scalar();
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(common::concat("pattern field '", field, "' must be text"));
    }
    if (field == "name") {
      pattern->name = entry.second.Scalar();
    } else if (field == "regex") {
      pattern->regex = entry.second.Scalar();
    } else if (field == "prefilter") {
      pattern->prefilter = entry.second.Scalar();
    } else if (field == "type") {
      type = entry.second.Scalar();
    } else {
      return absl::InvalidArgumentError(common::concat("unknown pattern field '", field,
                                                       "' (fields: name, regex, prefilter, type)"));
    }
  }
  if (pattern->name.empty()) return absl::InvalidArgumentError("a pattern has no name");
  if (pattern->regex.empty()) {
    return absl::InvalidArgumentError(common::concat("pattern '", pattern->name, "' has no regex"));
  }
  if (!type) return absl::OkStatus();
  std::vector<std::string_view> types;
  for (const EnumName<PatternType>& entry : kPatternTypeNames) {
    if (entry.name == *type) {
      pattern->type = entry.value;
      return absl::OkStatus();
    }
    types.push_back(entry.name);
  }
  return absl::InvalidArgumentError(
      common::concat("pattern '", pattern->name, "': type '", *type,
                     "' is not one of: ", fmt::format("{}", fmt::join(types, ", "))));
}

KeyDef patternsKey() {
  return {"training.patterns",
          "Extra training-log formats: a list of {name, regex, prefilter, type}; regex is RE2 "
          "with named groups: for type performance (the default) called like the performance "
          "fields, or custom fields; for start, end and checkpoint_* iteration, path, "
          "duration_ms; ignore makes matching lines no training lines; in env/flags as JSON",
          [](Config& config, const RawValue& raw) -> absl::Status {
            auto text = scalarOf(raw);
            if (!text.ok()) return text.status();
            YAML::Node root;
            try {
              root = YAML::Load(*text);
            } catch (const std::exception& error) {
              return absl::InvalidArgumentError(common::concat("cannot parse: ", error.what()));
            }
            if (root.IsNull()) {
              config.training.patterns.clear();
              return absl::OkStatus();
            }
            if (!root.IsSequence()) return absl::InvalidArgumentError("expected a list of maps");
            std::vector<TrainingPattern> patterns;
            for (const auto& item : root) {
              TrainingPattern pattern;
              TP_RETURN_IF_ERROR(readPattern(item, &pattern));
              for (const TrainingPattern& earlier : patterns) {
                if (earlier.name == pattern.name) {
                  return absl::InvalidArgumentError(
                      common::concat("two patterns are named '", pattern.name, "'"));
                }
              }
              patterns.push_back(std::move(pattern));
            }
            config.training.patterns = std::move(patterns);
            return absl::OkStatus();
          },
          [](const Config& config) {
            YAML::Emitter out;
            out << YAML::Flow << YAML::BeginSeq;
            for (const TrainingPattern& pattern : config.training.patterns) {
              out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << pattern.name
                  << YAML::Key << "regex" << YAML::Value << pattern.regex;
              if (!pattern.prefilter.empty()) {
                out << YAML::Key << "prefilter" << YAML::Value << pattern.prefilter;
              }
              if (pattern.type != PatternType::kPerformance) {
                out << YAML::Key << "type" << YAML::Value
                    << std::string(nameOf(kPatternTypeNames, pattern.type));
              }
              out << YAML::EndMap;
            }
            out << YAML::EndSeq;
            return std::string(out.c_str());
          },
          true};
}

const std::vector<KeyDef>& keyDefs() {
  static const std::vector<KeyDef> kKeys = {
      intKey(
          "httpPort", "Port of the HTTP listener; 0 picks a free port (printed at start)",
          [](auto& c) -> auto& { return c.http_port; }, 0, 65535),
      stringKey(
          "http.listenAddress", "Address the HTTP listener binds",
          [](auto& c) -> auto& { return c.http.listen_address; }),
      intKey(
          "http.threads", "I/O threads serving HTTP; 0 = one per core the process may use",
          [](auto& c) -> auto& { return c.http.threads; }, 0, 256),
      sizeKey(
          "http.maxBodyBytes", "Largest request body accepted (larger: 413)",
          [](auto& c) -> auto& { return c.http.max_body_bytes; }, 1024),
      sizeKey(
          "http.maxDecodedBytes", "Largest decompressed request body accepted (larger: 413)",
          [](auto& c) -> auto& { return c.http.max_decoded_bytes; }, 1024),
      sizeKey(
          "http.maxEnrichedBytes",
          "Largest remote write the enrichment of one request may produce (larger: 413)",
          [](auto& c) -> auto& { return c.http.max_enriched_bytes; }, 1024),
      sizeKey(
          "http.maxSeriesLabelBytes",
          "Largest label bytes of one enriched series (2.0 symbols resolved; larger: 413)",
          [](auto& c) -> auto& { return c.http.max_series_label_bytes; }, 1024),
      durationKey(
          "http.headerTimeout", "Time a client has to send the request headers",
          [](auto& c) -> auto& { return c.http.header_timeout; }, milliseconds(100)),
      durationKey(
          "http.bodyTimeout", "Time a client has to send the request body",
          [](auto& c) -> auto& { return c.http.body_timeout; }, milliseconds(100)),
      durationKey(
          "http.idleTimeout", "Keep-alive connections idle this long are closed",
          [](auto& c) -> auto& { return c.http.idle_timeout; }, milliseconds(100)),
      intKey(
          "http.maxConnections", "Open connections beyond this are refused",
          [](auto& c) -> auto& { return c.http.max_connections; }, 1, 1'000'000),
      stringKey(
          "http.tlsCertFile",
          "PEM certificate chain of the listener; with http.tlsKeyFile, HTTPS instead of HTTP",
          [](auto& c) -> auto& { return c.http.tls_cert_file; }),
      stringKey(
          "http.tlsKeyFile", "PEM private key of http.tlsCertFile",
          [](auto& c) -> auto& { return c.http.tls_key_file; }),
      enumKey(
          "db.driver", "Database backend", [](auto& c) -> auto& { return c.db.driver; },
          kDbDriverNames),
      stringKey(
          "db.path", "SQLite database file (db.driver=sqlite)",
          [](auto& c) -> auto& { return c.db.path; }),
      stringKey(
          "db.host", "Database host (postgres, mysql)", [](auto& c) -> auto& { return c.db.host; }),
      intKey(
          "db.port",
          common::concat("Database port; 0 = ", standardPort(DbDriver::kPostgres),
                         " for postgres, ", standardPort(DbDriver::kMysql), " for mysql"),
          [](auto& c) -> auto& { return c.db.port; }, 0, 65535),
      stringKey(
          "db.user_name", "Database user", [](auto& c) -> auto& { return c.db.user_name; }),
      stringKey(
          "db.password", "Database password", [](auto& c) -> auto& { return c.db.password; }),
      stringKey(
          "db.db_name", "Database name", [](auto& c) -> auto& { return c.db.db_name; }),
      boolKey(
          "db.enable_ssl", "Use TLS to the database",
          [](auto& c) -> auto& { return c.db.enable_ssl; }),
      intKey(
          "db.poolSize", "Database connections kept open",
          [](auto& c) -> auto& { return c.db.pool_size; }, 1, 64),
      durationKey(
          "db.timeout", "Limit for connecting and for each database statement",
          [](auto& c) -> auto& { return c.db.timeout; }, milliseconds(100)),
      listKey(
          "metricsWrite.endpoints",
          "Remote-write URLs of the metrics storage (list, or comma-separated); a base URL gets "
          "/api/v1/write appended. Empty disables forwarding",
          [](auto& c) -> auto& { return c.metrics_write.endpoints; }, checkEndpoint),
      intKey(
          "metricsWrite.concurrency",
          "Requests in flight per storage endpoint: that many lanes, each series always in the "
          "same "
          "one, so every series arrives in order",
          [](auto& c) -> auto& { return c.metrics_write.concurrency; }, 1, 64),
      durationKey(
          "metricsWrite.timeout", "Limit for connecting to storage and for each request",
          [](auto& c) -> auto& { return c.metrics_write.timeout; }, milliseconds(100)),
      durationKey(
          "metricsWrite.retryMinBackoff", "First retry delay; doubles per attempt, with jitter",
          [](auto& c) -> auto& { return c.metrics_write.retry_min_backoff; }, milliseconds(1)),
      durationKey(
          "metricsWrite.retryMaxBackoff", "Longest retry delay, also the cap on Retry-After",
          [](auto& c) -> auto& { return c.metrics_write.retry_max_backoff; }, milliseconds(1)),
      durationKey(
          "cache.refreshInterval", "How often the cluster-state caches are rebuilt",
          [](auto& c) -> auto& { return c.cache.refresh_interval; }, milliseconds(100)),
      stringKey(
          "queue.dir", "Directory of the on-disk delivery queues and the training-row journal",
          [](auto& c) -> auto& { return c.queue.dir; }),
      sizeKey(
          "queue.maxDiskUsage",
          "Disk space each storage endpoint's queue, and the training-row journal, may use",
          [](auto& c) -> auto& { return c.queue.max_disk_usage; }, 1 << 20),
      enumKey(
          "queue.fsync",
          "When queued batches reach stable storage: interval (every second) or always (each "
          "batch)",
          [](auto& c) -> auto& { return c.queue.fsync; }, kFsyncModeNames),
      enumKey(
          "queue.whenFull",
          "A full queue refuses remote writes with 503 + Retry-After (reject) or drops its "
          "oldest batches, counted (drop_oldest)",
          [](auto& c) -> auto& { return c.queue.when_full; }, kWhenFullNames),
      intKey(
          "logs.maxNodeLabels",
          "Distinct node label values of the log latency metrics; further nodes count under "
          "node=\"other\"",
          [](auto& c) -> auto& { return c.logs.max_node_labels; }, 1, 100'000),
      patternsKey(),
      intKey(
          "training.bufferRows",
          "Training rows and events journaled while waiting for the database; when full, logs get "
          "503",
          [](auto& c) -> auto& { return c.training.buffer_rows; }, 1, 100'000'000),
      intKey(
          "training.batchRows", "Rows per INSERT statement",
          [](auto& c) -> auto& { return c.training.batch_rows; }, 1, 5'000),
      durationKey(
          "training.flushInterval", "Rows are written at the latest this long after arriving",
          [](auto& c) -> auto& { return c.training.flush_interval; }, milliseconds(1)),
      durationKey(
          "training.retryMaxBackoff", "Longest wait between database write retries",
          [](auto& c) -> auto& { return c.training.retry_max_backoff; }, milliseconds(1)),
      autoBoolKey(
          "training.series.enabled",
          "Also send each performance line as workload_training_* samples to metricsWrite "
          "endpoints; auto: when endpoints are configured",
          [](auto& c) -> auto& { return c.training.series.enabled; }),
      intKey(
          "training.series.maxPerWorkload",
          "Distinct training series per workload held in memory; samples of further series are "
          "dropped, counted, until some have been idle for a day",
          [](auto& c) -> auto& { return c.training.series.max_per_workload; }, 1, 1'000'000),
      numberKey(
          "training.stall.factor",
          "A run is stalled after this many times its median interval between logged iterations "
          "without a new one (at least training.stall.minimum)",
          [](auto& c) -> auto& { return c.training.stall.factor; }, 1, 1'000),
      durationKey(
          "training.stall.minimum", "Shortest wait without a new iteration that counts as a stall",
          [](auto& c) -> auto& { return c.training.stall.minimum; }, milliseconds(1)),
      durationKey(
          "training.stall.checkpointGrace",
          "Longest a checkpoint save or load in progress holds a stall off",
          [](auto& c) -> auto& { return c.training.stall.checkpoint_grace; }, milliseconds(0)),
      durationKey(
          "training.stall.checkInterval", "How often runs are checked for stalls and anomalies",
          [](auto& c) -> auto& { return c.training.stall.check_interval; }, milliseconds(10)),
      numberKey(
          "training.anomaly.lossSpikeFactor",
          "A loss above this many times the median of the last training.anomaly.window "
          "iterations is a LossSpike",
          [](auto& c) -> auto& { return c.training.anomaly.loss_spike_factor; }, 1, 1'000'000),
      intKey(
          "training.anomaly.window", "Logged iterations the loss median is taken over",
          [](auto& c) -> auto& { return c.training.anomaly.window; }, 2, 10'000),
      numberKey(
          "training.anomaly.throughputDrop",
          "Throughput below (1 - this) x the run's median for training.anomaly.consecutive "
          "iterations is a ThroughputDrop",
          [](auto& c) -> auto& { return c.training.anomaly.throughput_drop; }, 0.01, 0.99),
      intKey(
          "training.anomaly.consecutive",
          "Logged iterations in a row below the throughput threshold that make a ThroughputDrop",
          [](auto& c) -> auto& { return c.training.anomaly.consecutive; }, 1, 10'000),
      durationKey(
          "training.patternReloadInterval",
          "How often the enabled rows of training_log_pattern are read again (added, changed and "
          "deleted rows take effect)",
          [](auto& c) -> auto& { return c.training.pattern_reload_interval; }, milliseconds(100)),
      durationKey(
          "training.patternHitFlushInterval",
          "How often a pattern's hit_count and last_hit_at are written back, at most",
          [](auto& c) -> auto& { return c.training.pattern_hit_flush_interval; },
          milliseconds(100)),
      listKey(
          "training.patternShadowSources",
          "training_log_pattern sources whose rows are only evaluated and counted (shadow mode) "
          "until an operator sets their source to manual: manual, autodiscovered, migration",
          [](auto& c) -> auto& { return c.training.pattern_shadow_sources; },
          [](const std::string& item) {
            return item == "manual" || item == "autodiscovered" || item == "migration"
                       ? absl::OkStatus()
                       : absl::InvalidArgumentError(common::concat(
                             "'", item, "' is not a source (manual, autodiscovered, migration)"));
          }),
      listKey(
          "auth.bearerTokens",
          "Accepted bearer tokens (list, or comma-separated); with auth.basicUsers empty too, no "
          "authentication",
          [](auto& c) -> auto& { return c.auth.bearer_tokens; },
          [](const std::string&) { return absl::OkStatus(); }),
      listKey(
          "auth.basicUsers", "Accepted basic-auth credentials as user:password (list)",
          [](auto& c) -> auto& { return c.auth.basic_users; },
          [](const std::string& item) {
            return item.find(':') == std::string::npos
                       ? absl::InvalidArgumentError("entries must be user:password")
                       : absl::OkStatus();
          }),
      listKey(
          "auth.exemptPaths", "Paths served without authentication (without the /v1 prefix)",
          [](auto& c) -> auto& { return c.auth.exempt_paths; },
          [](const std::string& item) {
            return item.starts_with('/') ? absl::OkStatus()
                                         : absl::InvalidArgumentError(common::concat(
                                               "'", item, "' is not a path (starts with /)"));
          }),
      enumKey(
          "log.level", "Log level", [](auto& c) -> auto& { return c.log.level; }, kLogLevelNames),
      durationKey(
          "shutdown.gracePeriod",
          "On SIGTERM, how long in-flight work may take before the process exits",
          [](auto& c) -> auto& { return c.shutdown.grace_period; }, milliseconds(0)),
  };
  return kKeys;
}

const KeyDef* findKey(std::string_view path) {
  for (const KeyDef& key : keyDefs()) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

bool isKeyPrefix(std::string_view prefix) {
  for (const KeyDef& key : keyDefs()) {
    if (key.path.size() > prefix.size() && key.path.starts_with(prefix) &&
        key.path[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

absl::Status applyValue(Config& config, std::string_view path, const RawValue& raw) {
  const KeyDef* key = findKey(path);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        common::concat("config: unknown key '", path, "' (", raw.origin, "); see --help"));
  }
  if (absl::Status status = key->set(config, raw); !status.ok()) {
    return absl::InvalidArgumentError(
        common::concat("config: invalid ", path, " (", raw.origin, "): ", common::message(status)));
  }
  return absl::OkStatus();
}

std::string lineOrigin(std::string_view file, const YAML::Node& node) {
  return common::concat("file ", file, " line ", node.Mark().line + 1);
}

absl::Status applyYamlNode(Config& config, const YAML::Node& node, const std::string& prefix,
                           std::string_view origin, int depth) {
  if (depth > kMaxNesting) {
    return absl::InvalidArgumentError(
        common::concat("config: unknown key '", prefix, "' (", lineOrigin(origin, node), ")"));
  }
  if (node.IsMap() && (prefix.empty() || isKeyPrefix(prefix)) && findKey(prefix) == nullptr) {
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        return absl::InvalidArgumentError(common::concat("config: keys must be plain names (",
                                                         lineOrigin(origin, entry.first), ")"));
      }
      const std::string name = entry.first.Scalar();
      const std::string path = prefix.empty() ? name : common::concat(prefix, ".", name);
      TP_RETURN_IF_ERROR(applyYamlNode(config, entry.second, path, origin, depth + 1));
    }
    return absl::OkStatus();
  }
  RawValue raw{.origin = lineOrigin(origin, node)};
  if (const KeyDef* key = findKey(prefix); key != nullptr && key->structured) {
    raw.items.push_back(YAML::Dump(node));
  } else if (node.IsScalar()) {
    raw.items.push_back(node.Scalar());
  } else if (node.IsNull()) {
    raw.items.emplace_back();
  } else if (node.IsSequence()) {
    raw.is_list = true;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return absl::InvalidArgumentError(common::concat("config: invalid ", prefix, " (",
                                                         lineOrigin(origin, item),
                                                         "): list items must be "
                                                         "plain values"));
      }
      raw.items.push_back(item.Scalar());
    }
  } else if (findKey(prefix) == nullptr) {
    return applyValue(config, prefix, raw);  // names the unknown key
  } else {
    return absl::InvalidArgumentError(common::concat("config: invalid ", prefix, " (", raw.origin,
                                                     "): expected a value, got a map"));
  }
  return applyValue(config, prefix, raw);
}

absl::Status applyText(Config& config, std::string_view text, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const std::exception& error) {
    return absl::InvalidArgumentError(
        common::concat("config: cannot parse ", origin, ": ", error.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        common::concat("config: ", origin, " must hold a map of keys at the top level"));
  }
  try {
    return applyYamlNode(config, root, "", origin, 0);
  } catch (const std::exception& error) {
    return absl::InvalidArgumentError(
        common::concat("config: cannot read ", origin, ": ", error.what()));
  }
}

absl::Status applyFile(Config& config, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(common::concat("config: cannot open file '", path, "'"));
  }
  std::string text(kMaxConfigFileBytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(file.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    return absl::InvalidArgumentError(
        common::concat("config: file '", path, "' is larger than 1 MiB"));
  }
  return applyText(config, text, path);
}

absl::Status validateCombination(const Config& config) {
  if (config.db.driver == DbDriver::kSqlite && config.db.path.empty()) {
    return absl::InvalidArgumentError("config: invalid db.path: empty, and db.driver is sqlite");
  }
  if (config.db.driver != DbDriver::kSqlite && config.db.host.empty()) {
    return absl::InvalidArgumentError(
        common::concat("config: invalid db.host: empty, and db.driver is ",
                       nameOf(kDbDriverNames, config.db.driver)));
  }
  if (config.queue.dir.empty()) {
    return absl::InvalidArgumentError("config: invalid queue.dir: empty");
  }
  if (config.http.tls_cert_file.empty() != config.http.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "config: invalid http.tlsCertFile / http.tlsKeyFile: set both for TLS, or neither");
  }
  return absl::OkStatus();
}

}  // namespace

std::string envNameForKey(std::string_view key_path) {
  std::string name = "TP_";
  for (char c : key_path)
    name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

const std::vector<KeyInfo>& configKeys() {
  static const std::vector<KeyInfo> kInfo = [] {
    std::vector<KeyInfo> info;
    const Config defaults;
    for (const KeyDef& key : keyDefs()) {
      info.push_back({key.path, envNameForKey(key.path), key.print(defaults), key.help});
    }
    return info;
  }();
  return kInfo;
}

std::vector<std::string> changedKeys(const Config& before, const Config& after) {
  std::vector<std::string> changed;
  for (const KeyDef& key : keyDefs()) {
    if (key.print(before) != key.print(after)) changed.push_back(key.path);
  }
  return changed;
}

bool isReloadable(std::string_view key_path) {
  static constexpr std::array<std::string_view, 5> kReloadable = {
      "training.patterns", "auth.bearerTokens", "auth.basicUsers", "auth.exemptPaths", "log.level"};
  return std::find(kReloadable.begin(), kReloadable.end(), key_path) != kReloadable.end() ||
         key_path.starts_with("training.stall.") || key_path.starts_with("training.anomaly.");
}

absl::StatusOr<Config> loadConfig(const ConfigSources& sources) {
  Config config;
  if (sources.file_path) {
    TP_RETURN_IF_ERROR(applyFile(config, *sources.file_path));
  }
  if (sources.getenv) {
    for (const KeyDef& key : keyDefs()) {
      const std::string env_name = envNameForKey(key.path);
      const char* value = sources.getenv(env_name.c_str());
      if (value == nullptr) continue;
      RawValue raw{.items = {value}, .origin = common::concat("env ", env_name)};
      TP_RETURN_IF_ERROR(applyValue(config, key.path, raw));
    }
  }
  for (const auto& [path, value] : sources.flags) {
    RawValue raw{.items = {value}, .origin = common::concat("flag --", path)};
    TP_RETURN_IF_ERROR(applyValue(config, path, raw));
  }
  TP_RETURN_IF_ERROR(validateCombination(config));
  return config;
}

absl::StatusOr<Config> loadConfigText(std::string_view text, std::string_view origin) {
  Config config;
  TP_RETURN_IF_ERROR(applyText(config, text, origin));
  TP_RETURN_IF_ERROR(validateCombination(config));
  return config;
}

}  // namespace tp::config
