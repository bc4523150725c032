#include "storage/schema_maintainer.h"

#include <algorithm>

#include "common/strings.h"
#include "soci/soci.h"
#include "spdlog/spdlog.h"
#include "storage/schema.h"

namespace tp::storage {
namespace {

constexpr std::chrono::milliseconds kRetryMax = std::chrono::minutes(10);
// Until the database has answered once, as the cache refresher retries its first read.
constexpr std::chrono::milliseconds kRetryUntilAnswered = std::chrono::seconds(1);

}  // namespace

SchemaMaintainer::SchemaMaintainer(Database& database, std::chrono::milliseconds interval,
                                   telemetry::SchemaMetrics metrics, const common::Clock& clock)
    : database_(database), interval_(interval), metrics_(metrics), clock_(clock) {}

SchemaMaintainer::~SchemaMaintainer() { stop(); }

bool SchemaMaintainer::ready() const {
  std::lock_guard lock(mutex_);
  return ready_;
}

common::Clock::TimePoint SchemaMaintainer::nextAttempt() const {
  std::lock_guard lock(mutex_);
  return next_attempt_;
}

std::chrono::milliseconds SchemaMaintainer::retryDelay(bool completed) const {
  if (!completed) {
    return database_answered_ ? interval_ : std::min(interval_, kRetryUntilAnswered);
  }
  // Refused steps: one interval, one again, then doubling.
  const int doublings = std::clamp(refusals_in_a_row_ - 2, 0, 20);
  return std::min<std::chrono::milliseconds>(interval_ * (int64_t{1} << doublings), kRetryMax);
}

void SchemaMaintainer::migrate() {
  // The schedule counts from the start of the attempt, which can take a while.
  const common::Clock::TimePoint started = clock_.now();
  std::vector<std::string> warnings;
  const absl::Status status = ensureSchema(database_, &warnings);
  // The same warnings come back at every attempt until someone acts: said when they change, and
  // again every few minutes.
  if (warnings != last_warnings_ || warning_log_.admit()) {
    for (const auto& warning : warnings) spdlog::warn("schema: {}", warning);
  }
  last_warnings_ = warnings;
  if (status.ok()) reportUniqueKeys();
  // A database that answers a trivial query failed the migration itself: that is tried again
  // every interval, not every second.
  if (!database_answered_) {
    database_answered_ =
        status.ok() || database_.run([](soci::session& sql) { sql << "SELECT 1"; }).ok();
  }
  const bool ready = status.ok() && warnings.empty();
  refusals_in_a_row_ = status.ok() ? refusals_in_a_row_ + 1 : 0;
  const std::chrono::milliseconds delay = retryDelay(status.ok());
  if (!status.ok()) {
    spdlog::warn("schema migration failed, tried again in {} ms: {}", delay.count(),
                 common::message(status));
  }
  {
    std::lock_guard lock(mutex_);
    ready_ = ready;
    next_attempt_ = started + delay;
  }
  // Counted last: a test that sees the count sees the next attempt's time too.
  if (!ready) metrics_.migration_failures->Increment();
}

void SchemaMaintainer::reportUniqueKeys() {
  auto missing = tablesWithoutUniqueKey(database_);
  if (!missing.ok()) return;
  for (std::string_view table : {"workload_event", "training_performance"}) {
    const bool absent = std::find(missing->begin(), missing->end(), table) != missing->end();
    prometheus::Gauge& gauge = metrics_.unique_key_missing->Add({{"table", std::string(table)}});
    if (absent && gauge.Value() == 0) {
      spdlog::warn(
          "schema: {} has no unique key for exactly-once writes (existing duplicates block it). "
          "Each replica still writes a row once, but two replicas can race and write it twice; "
          "`telemetry-processor db dedupe --apply` removes the duplicates and creates the key",
          table);
    }
    gauge.Set(absent ? 1 : 0);
  }
}

void SchemaMaintainer::start() {
  migrate();
  if (ready()) return;
  thread_ = std::thread([this] { run(); });
}

void SchemaMaintainer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SchemaMaintainer::run() {
  std::unique_lock lock(mutex_);
  while (!ready_) {
    if (clock_.waitUntil(lock, wakeup_, next_attempt_, [this] { return stopping_; })) return;
    lock.unlock();
    migrate();
    lock.lock();
  }
}

}  // namespace tp::storage
