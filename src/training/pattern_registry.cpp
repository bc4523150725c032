#include "training/pattern_registry.h"

#include <algorithm>

#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace tp::training {

void writeInvalidPatterns(common::JsonWriter& writer, const std::vector<InvalidPattern>& invalid) {
  writer.StartArray();
  for (const InvalidPattern& pattern : invalid) {
    writer.StartObject();
    writer.Key("id");
    writer.Int64(pattern.id);
    writer.Key("name");
    common::writeString(writer, pattern.name);
    writer.Key("error");
    common::writeString(writer, pattern.problem);
    writer.EndObject();
  }
  writer.EndArray();
}
namespace {

using config::PatternType;

struct LensType {
  std::string_view pattern_type;
  std::string_view event_subtype;  // empty: any
  PatternType type;
};

// Lens's pattern types and event subtypes; "loading" is the load of a checkpoint, which Lens
// records once, at its start.
constexpr LensType kLensTypes[] = {
    {"performance", "", PatternType::kPerformance},
    {"blacklist", "", PatternType::kIgnore},
    {"training_event", "start_training", PatternType::kStart},
    {"training_event", "end_training", PatternType::kEnd},
    {"checkpoint_event", "start_saving", PatternType::kCheckpointSaveStart},
    {"checkpoint_event", "end_saving", PatternType::kCheckpointSaveEnd},
    {"checkpoint_event", "loading", PatternType::kCheckpointLoadStart},
    {"checkpoint_event", "start_loading", PatternType::kCheckpointLoadStart},
    {"checkpoint_event", "end_loading", PatternType::kCheckpointLoadEnd},
};

int64_t micros(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

}  // namespace

absl::StatusOr<StoredPattern> translateRow(const storage::LogPatternRow& row,
                                           const std::vector<std::string>& shadow_sources) {
  StoredPattern stored;
  stored.id = row.id;
  stored.framework = row.framework;
  stored.shadow =
      std::find(shadow_sources.begin(), shadow_sources.end(), row.source) != shadow_sources.end();
  stored.pattern.name = row.name.empty() ? common::concat("pattern-", row.id) : row.name;
  stored.pattern.regex = row.pattern;
  if (row.pattern.empty()) return absl::InvalidArgumentError("the pattern is empty");
  for (const LensType& lens : kLensTypes) {
    if (lens.pattern_type == row.pattern_type &&
        (lens.event_subtype.empty() || lens.event_subtype == row.event_subtype)) {
      stored.pattern.type = lens.type;
      return stored;
    }
  }
  return absl::InvalidArgumentError(common::concat(
      "pattern_type '", row.pattern_type, "' with event_subtype '", row.event_subtype,
      "' is none of performance, blacklist, training_event (start_training, end_training) and "
      "checkpoint_event (start_saving, end_saving, loading)"));
}

PatternRegistry::PatternRegistry(storage::Database& database,
                                 std::shared_ptr<const PerformanceExtractor> base,
                                 PatternRegistryOptions options,
                                 telemetry::TrainingPatternMetrics metrics,
                                 const common::Clock& clock)
    : database_(database),
      base_(std::move(base)),
      options_(std::move(options)),
      metrics_(metrics),
      clock_(clock),
      failure_log_(std::chrono::minutes(1), clock),
      current_(base_) {}

PatternRegistry::~PatternRegistry() { stop(); }

void PatternRegistry::start() {
  thread_ = std::thread([this] { run(); });
}

void PatternRegistry::stop() {
  {
    std::lock_guard lock(wait_mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    // A database that failed the last read or write would hold the shutdown up for db.timeout.
    if (database_answered_.load()) flushHits(true);
  }
}

void PatternRegistry::run() {
  // On this thread: an unreachable database must not hold up the start.
  reload();
  common::Clock::TimePoint next_reload = clock_.now() + options_.reload_interval;
  const auto step = std::min(options_.reload_interval, options_.hit_flush_interval);
  std::unique_lock lock(wait_mutex_);
  while (!stopping_) {
    clock_.waitFor(lock, wakeup_, step, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (clock_.now() >= next_reload) {
      reload();
      next_reload = clock_.now() + options_.reload_interval;
    }
    flushHits(false);
    lock.lock();
  }
}

PatternRegistry::Compiled PatternRegistry::compile(const storage::LogPatternRow& row) const {
  Compiled compiled{.row = row, .pattern = nullptr, .problem = {}};
  absl::StatusOr<StoredPattern> stored = translateRow(row, options_.shadow_sources);
  if (!stored.ok()) {
    compiled.problem = common::message(stored.status());
    return compiled;
  }
  auto pattern = PerformanceExtractor::compileStored(*stored);
  if (!pattern.ok()) {
    compiled.problem = common::message(pattern.status());
  } else if (!row.sample_line.empty() &&
             !PerformanceExtractor::matches(**pattern, row.sample_line)) {
    compiled.problem = "its sample_line does not match it";
  } else {
    compiled.pattern = *std::move(pattern);
  }
  return compiled;
}

void PatternRegistry::replaceBase(std::shared_ptr<const PerformanceExtractor> base) {
  std::lock_guard reload_lock(reload_mutex_);
  base_ = std::move(base);
  std::vector<std::shared_ptr<const Pattern>> stored;
  for (const storage::LogPatternRow& row : rows_) {
    const auto entry = compiled_.find(row.id);
    if (entry != compiled_.end() && entry->second.pattern) stored.push_back(entry->second.pattern);
  }
  current_.store(base_->withStored(stored), std::memory_order_release);
}

bool PatternRegistry::reload() {
  std::lock_guard reload_lock(reload_mutex_);
  metrics_.reloads->Increment();
  absl::StatusOr<std::vector<storage::LogPatternRow>> rows =
      storage::readEnabledLogPatterns(database_);
  database_answered_.store(rows.ok());
  if (!rows.ok()) {
    metrics_.reload_failures->Increment();
    failure_log_.log(spdlog::level::warn,
                     "cannot read training_log_pattern (the patterns read last stay in use): {}",
                     common::message(rows.status()));
    return false;
  }
  const auto loaded_at = clock_.wallNow();
  if (loaded_ && *rows == rows_) {
    std::lock_guard lock(mutex_);
    state_.last_loaded = loaded_at;
    return true;
  }
  // Compiled anew only when the row changed; a row refused is logged when it first appears so.
  absl::flat_hash_map<int64_t, Compiled> compiled;
  std::vector<std::shared_ptr<const Pattern>> stored;
  std::vector<InvalidPattern> invalid;
  size_t shadow = 0;
  for (const storage::LogPatternRow& row : *rows) {
    const auto known = compiled_.find(row.id);
    Compiled entry =
        known != compiled_.end() && known->second.row == row ? known->second : compile(row);
    if (entry.pattern) {
      stored.push_back(entry.pattern);
      shadow += isShadow(*entry.pattern);
    } else {
      const std::string name = row.name.empty() ? common::concat("pattern-", row.id) : row.name;
      if (known == compiled_.end() || !(known->second.row == row)) {
        spdlog::warn("training_log_pattern row {} ('{}') left out: {}", row.id, name,
                     entry.problem);
      }
      invalid.push_back({row.id, name, entry.problem});
    }
    compiled.insert_or_assign(row.id, std::move(entry));
  }
  current_.store(base_->withStored(stored), std::memory_order_release);
  {
    std::lock_guard lock(mutex_);
    state_.last_loaded = loaded_at;
    state_.invalid = invalid;
    // Counters follow the rows in use; those of rows gone go with their unwritten hits.
    for (auto it = hits_.begin(); it != hits_.end();) {
      const auto now_compiled = compiled.find(it->first);
      if (now_compiled == compiled.end() || !now_compiled->second.pattern) {
        metrics_.hits->Remove(it->second.counter);
        hits_.erase(it++);
      } else {
        ++it;
      }
    }
    for (const auto& pattern : stored) {
      const int64_t id = storedIdOf(*pattern);
      if (hits_.contains(id)) continue;
      PendingHits& pending = hits_[id];
      pending.counter = &metrics_.hits->Add({{"pattern_id", std::to_string(id)}});
      pending.last_flush = clock_.now() - options_.hit_flush_interval;
    }
  }
  metrics_.loaded->Set(static_cast<double>(stored.size()));
  metrics_.shadow->Set(static_cast<double>(shadow));
  metrics_.invalid->Set(static_cast<double>(invalid.size()));
  spdlog::info("training_log_pattern: {} patterns in use ({} shadow), {} left out", stored.size(),
               shadow, invalid.size());
  rows_ = *std::move(rows);
  compiled_ = std::move(compiled);
  loaded_ = true;
  return true;
}

void PatternRegistry::recordHits(const PerformanceExtractor& extractor,
                                 std::span<const uint64_t> hits) {
  const int64_t now_us = micros(clock_.wallNow());
  const auto& stored = extractor.stored();
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < hits.size() && i < stored.size(); ++i) {
    if (hits[i] == 0) continue;
    const auto pending = hits_.find(storedIdOf(*stored[i]));
    if (pending == hits_.end()) continue;  // deleted since the batch began
    pending->second.count += hits[i];
    pending->second.last_hit_us = now_us;
    pending->second.counter->Increment(static_cast<double>(hits[i]));
  }
}

bool PatternRegistry::flushHits(bool all) {
  const common::Clock::TimePoint now = clock_.now();
  std::vector<storage::LogPatternHits> due;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, pending] : hits_) {
      if (pending.count == 0) continue;
      if (!all && now - pending.last_flush < options_.hit_flush_interval) continue;
      due.push_back({id, pending.count, pending.last_hit_us});
      pending.count = 0;
      pending.last_flush = now;
    }
  }
  if (due.empty()) return true;
  const absl::Status written = storage::addLogPatternHits(database_, due);
  database_answered_.store(written.ok());
  if (written.ok()) return true;
  metrics_.hit_flush_failures->Increment();
  failure_log_.log(spdlog::level::warn, "cannot write training_log_pattern hit counts: {}",
                   common::message(written));
  // Kept for the next flush.
  std::lock_guard lock(mutex_);
  for (const storage::LogPatternHits& hit : due) {
    const auto pending = hits_.find(hit.id);
    if (pending == hits_.end()) continue;
    pending->second.count += hit.count;
    pending->second.last_hit_us = std::max(pending->second.last_hit_us, hit.last_hit_us);
  }
  return false;
}

PatternRegistryState PatternRegistry::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

}  // namespace tp::training
