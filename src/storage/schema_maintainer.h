#pragma once
// Brings the database schema up to date at start-up and keeps at it until every migration step
// is in place. A step the database refuses (a unique key that existing duplicates block, a table
// the role does not own) does not stop the processor: it is counted, logged when the refusals
// change and every 10 minutes, and tried again after one interval, then one, two, four... up to
// 10 minutes, since an attempt at a unique key scans its table. A migration that fails outright
// (the database is unreachable, or refuses the migrations table) is tried again every interval,
// every second until the database has answered once. Each attempt that completes also sets
// database_unique_key_missing{table}.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/log_throttle.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"

namespace tp::storage {

class SchemaMaintainer {
 public:
  // `interval`: the base of the retry schedule (the cache refresh interval).
  SchemaMaintainer(Database& database, std::chrono::milliseconds interval,
                   telemetry::SchemaMetrics metrics,
                   const common::Clock& clock = common::systemClock());
  ~SchemaMaintainer();
  SchemaMaintainer(const SchemaMaintainer&) = delete;
  SchemaMaintainer& operator=(const SchemaMaintainer&) = delete;

  // Migrates once on the calling thread (the tables exist before the caller reads them, when
  // the database lets them be created), then, until every step is in place or stop(), again
  // on its own thread as scheduled.
  void start();
  void stop();

  // Every migration step is in place; nothing more is tried.
  bool ready() const;
  // When the next attempt is due (on the clock's monotonic time), unless ready().
  common::Clock::TimePoint nextAttempt() const;

 private:
  void run();
  void migrate();
  // database_unique_key_missing{table}, with a warning when a key is found missing.
  void reportUniqueKeys();
  std::chrono::milliseconds retryDelay(bool completed) const;

  Database& database_;
  const std::chrono::milliseconds interval_;
  telemetry::SchemaMetrics metrics_;
  const common::Clock& clock_;

  // Touched by one attempt at a time: start()'s, then the thread's.
  int refusals_in_a_row_ = 0;
  bool database_answered_ = false;
  std::vector<std::string> last_warnings_;
  common::LogThrottle warning_log_{std::chrono::minutes(10), clock_};

  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  bool ready_ = false;
  bool stopping_ = false;
  common::Clock::TimePoint next_attempt_{};
  std::thread thread_;
};

}  // namespace tp::storage
