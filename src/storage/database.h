#pragma once
// Connections to the configured database (SQLite file, PostgreSQL or MySQL/MariaDB through
// SOCI). Connections are opened lazily and reopened after a failure, so the processor starts
// and keeps serving while the database is away. SOCI's exceptions stop here: every call
// returns a Status.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "storage/dialect.h"

namespace soci {
class session;
}

namespace tp::storage {

class Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> create(const config::DbConfig& config);
  ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const Dialect& dialect() const { return dialect_; }

  // Runs `work` on a pooled connection. The database refusing a statement's values (out of
  // range, invalid date, constraint) becomes InvalidArgumentError; any other SOCI or connection
  // error becomes UnavailableError naming the backend, and the connection is then dropped and
  // reopened on next use. Waits at most db.timeout for a free connection.
  absl::Status run(const std::function<void(soci::session&)>& work);

  // Where the data lives, for logs: "sqlite data/x.db", "postgres 10.0.0.1:5432/primus-lens".
  std::string description() const;

 private:
  explicit Database(const config::DbConfig& config);
  absl::Status open(std::unique_ptr<soci::session>& slot);

  config::DbConfig config_;
  const Dialect& dialect_;
  std::string connect_string_;

  std::mutex mutex_;
  std::condition_variable slot_freed_;
  // Open connections not in use; guarded by mutex_.
  std::vector<std::unique_ptr<soci::session>> idle_;
  int in_use_ = 0;  // guarded by mutex_
};

// The connect string SOCI's backend takes, with every value quoted as the backend expects.
std::string connectString(const config::DbConfig& config);

}  // namespace tp::storage
