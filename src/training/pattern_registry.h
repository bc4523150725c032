#pragma once
// The patterns of Lens's training_log_pattern table, beside the configured and built-in formats
// (docs/TRAINING.md, "Patterns in the database"). A thread reads the enabled rows every
// reload interval; when they differ from the last read (a row added, changed, disabled or
// deleted), it compiles the changed ones and publishes a new immutable extractor, which the logs
// path takes once per batch without a lock. A row that does not compile, names a group no field
// has, or whose sample_line it does not match is left out, logged once and counted; the rest
// keep working. Rows of a shadow source only count. Hit counts gather in memory and are added
// to the rows at most once per flush interval per row, so that replicas' counts sum.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/log_throttle.h"
#include "config/config.h"
#include "storage/database.h"
#include "storage/log_patterns.h"
#include "telemetry/telemetry.h"
#include "training/performance_extractor.h"

namespace tp::training {

// The row as a pattern: its type and event_subtype as one of config::PatternType, its name or
// "pattern-<id>", shadow when its source is one of `shadow_sources`. InvalidArgument for a type
// or subtype that is none of Lens's, or an empty pattern.
absl::StatusOr<StoredPattern> translateRow(const storage::LogPatternRow& row,
                                           const std::vector<std::string>& shadow_sources);

struct PatternRegistryOptions {
  std::chrono::milliseconds reload_interval = config::TrainingConfig{}.pattern_reload_interval;
  std::chrono::milliseconds hit_flush_interval =
      config::TrainingConfig{}.pattern_hit_flush_interval;
  std::vector<std::string> shadow_sources = config::TrainingConfig{}.pattern_shadow_sources;
};

// A row left out, for the frameworks API.
struct InvalidPattern {
  int64_t id = 0;
  std::string name;
  std::string problem;
};

// The rows left out as an array of {"id","name","error"} (the frameworks API and the console).
void writeInvalidPatterns(common::JsonWriter& writer, const std::vector<InvalidPattern>& invalid);

struct PatternRegistryState {
  std::chrono::system_clock::time_point last_loaded;  // epoch: never
  std::vector<InvalidPattern> invalid;
};

class PatternRegistry {
 public:
  // `base` holds the configured and built-in formats; it is current until the first reload.
  PatternRegistry(storage::Database& database, std::shared_ptr<const PerformanceExtractor> base,
                  PatternRegistryOptions options, telemetry::TrainingPatternMetrics metrics,
                  const common::Clock& clock = common::systemClock());
  ~PatternRegistry();
  PatternRegistry(const PatternRegistry&) = delete;
  PatternRegistry& operator=(const PatternRegistry&) = delete;

  // Starts the thread, which reads the table at once and then every reload interval.
  void start();
  // Stops the thread and writes the hit counts not yet written, unless the database failed the
  // last read or write (an outage would hold the shutdown up).
  void stop();

  // The extractor to use for one batch.
  std::shared_ptr<const PerformanceExtractor> current() const {
    return current_.load(std::memory_order_acquire);
  }

  // Adds one accepted batch's hits: hits[i] lines matched extractor.stored()[i].
  void recordHits(const PerformanceExtractor& extractor, std::span<const uint64_t> hits);

  PatternRegistryState state() const;

  // Replaces the configured formats (a configuration reload): the current extractor becomes
  // `base` with the database rows in use.
  void replaceBase(std::shared_ptr<const PerformanceExtractor> base);

  // One read of the table (what the thread does every reload interval); false when it failed.
  bool reload();
  // Writes the hit counts due (all of them with `all`); false when a write failed.
  bool flushHits(bool all);

 private:
  struct Compiled {
    storage::LogPatternRow row;
    std::shared_ptr<const Pattern> pattern;  // null: refused
    std::string problem;
  };
  struct PendingHits {
    uint64_t count = 0;
    int64_t last_hit_us = 0;
    common::Clock::TimePoint last_flush{};
    prometheus::Counter* counter = nullptr;
  };

  void run();
  Compiled compile(const storage::LogPatternRow& row) const;

  storage::Database& database_;
  std::shared_ptr<const PerformanceExtractor> base_;  // guarded by reload_mutex_
  const PatternRegistryOptions options_;
  telemetry::TrainingPatternMetrics metrics_;
  const common::Clock& clock_;
  common::LogThrottle failure_log_;

  std::atomic<std::shared_ptr<const PerformanceExtractor>> current_;
  std::atomic<bool> database_answered_{true};

  // The reload thread's own; state_ copies what the API shows.
  std::mutex reload_mutex_;
  std::vector<storage::LogPatternRow> rows_;
  bool loaded_ = false;
  absl::flat_hash_map<int64_t, Compiled> compiled_;

  mutable std::mutex mutex_;  // guards state_ and hits_
  PatternRegistryState state_;
  absl::flat_hash_map<int64_t, PendingHits> hits_;

  std::mutex wait_mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tp::training
