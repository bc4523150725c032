#include "storage/database.h"

#include <filesystem>

#include "common/strings.h"
#include "soci/mysql/soci-mysql.h"
#include "soci/postgresql/soci-postgresql.h"
#include "soci/soci.h"
#include "soci/sqlite3/soci-sqlite3.h"

namespace tp::storage {
namespace {

// libpq and SOCI's MySQL parser both accept 'single quoted' values with \-escapes.
std::string quotedValue(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// True when the database refused the values of a statement (out of range, bad date, too long,
// not null...), as opposed to being unreachable or misconfigured: retrying the same row would
// fail forever, so callers set such rows aside instead.
bool refusedTheData(const std::exception& error) {
  if (const auto* postgres = dynamic_cast<const soci::postgresql_soci_error*>(&error)) {
    const std::string state = postgres->sqlstate();
    return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0;  // data exception, constraint
  }
  if (const auto* mysql = dynamic_cast<const soci::mysql_soci_error*>(&error)) {
    switch (mysql->err_num_) {
      case 1048:  // column cannot be null
      case 1264:  // out of range value
      case 1265:  // data truncated
      case 1292:  // incorrect date/time value
      case 1366:  // incorrect integer/string value
      case 1406:  // data too long
      case 3140:  // invalid JSON text
      case 4025:  // CHECK constraint failed
        return true;
      default:
        return false;
    }
  }
  if (const auto* sqlite = dynamic_cast<const soci::sqlite3_soci_error*>(&error)) {
    const int primary = sqlite->result() & 0xff;
    return primary == 18 || primary == 19 || primary == 20;  // TOOBIG, CONSTRAINT, MISMATCH
  }
  return false;
}

long long seconds(std::chrono::milliseconds duration) {
  return std::max<long long>(1, (duration.count() + 999) / 1000);
}

}  // namespace

std::string connectString(const config::DbConfig& config) {
  const int port = config.port != 0 ? config.port : config::standardPort(config.driver);
  switch (config.driver) {
    case Driver::kSqlite:
      // SOCI's SQLite parser takes "double quoted" values; timeout is the busy timeout.
      return common::concat("db=\"", config.path, "\" timeout=", seconds(config.timeout));
    case Driver::kPostgres:
      return common::concat(
          "host=", quotedValue(config.host), " port=", port,
          " dbname=", quotedValue(config.db_name), " user=", quotedValue(config.user_name),
          " password=", quotedValue(config.password), " connect_timeout=", seconds(config.timeout),
          " sslmode=", config.enable_ssl ? "require" : "prefer",
          " options='-c statement_timeout=", config.timeout.count(), "'");
    case Driver::kMysql:
      return common::concat(
          "host=", quotedValue(config.host), " port=", port, " db=", quotedValue(config.db_name),
          " user=", quotedValue(config.user_name), " password=", quotedValue(config.password),
          " connect_timeout=", seconds(config.timeout), " read_timeout=", seconds(config.timeout),
          " write_timeout=", seconds(config.timeout), " charset=utf8mb4",
          // A CA file makes the client insist on TLS and verify the server.
          config.enable_ssl ? " sslca='/etc/ssl/certs/ca-certificates.crt'" : "");
  }
  return {};
}

Database::Database(const config::DbConfig& config)
    : config_(config),
      dialect_(dialectFor(config.driver)),
      connect_string_(connectString(config)) {}

Database::~Database() = default;

absl::StatusOr<std::unique_ptr<Database>> Database::create(const config::DbConfig& config) {
  if (config.driver == Driver::kSqlite) {
    const auto parent = std::filesystem::path(config.path).parent_path();
    std::error_code error;
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    if (error) {
      return absl::InvalidArgumentError(common::concat("db.path: cannot create directory '",
                                                       parent.string(), "': ", error.message()));
    }
  }
  return std::unique_ptr<Database>(new Database(config));
}

std::string Database::description() const {
  if (dialect_.driver == Driver::kSqlite) return common::concat("sqlite ", config_.path);
  return common::concat(config::nameOf(config::kDbDriverNames, dialect_.driver), " ", config_.host,
                        ":",
                        config_.port != 0 ? config_.port : config::standardPort(dialect_.driver),
                        "/", config_.db_name);
}

absl::Status Database::open(std::unique_ptr<soci::session>& slot) {
  try {
    switch (dialect_.driver) {
      case Driver::kSqlite:
        slot = std::make_unique<soci::session>(*soci::factory_sqlite3(), connect_string_);
        // WAL lets the cache refresh read while rows are being written.
        *slot << "PRAGMA journal_mode=WAL";
        *slot << "PRAGMA synchronous=NORMAL";
        break;
      case Driver::kPostgres:
        slot = std::make_unique<soci::session>(*soci::factory_postgresql(), connect_string_);
        break;
      case Driver::kMysql:
        slot = std::make_unique<soci::session>(*soci::factory_mysql(), connect_string_);
        break;
    }
    return absl::OkStatus();
  } catch (const std::exception& error) {
    slot.reset();
    return absl::UnavailableError(
        common::concat("database ", description(), ": cannot connect: ", error.what()));
  }
}

absl::Status Database::run(const std::function<void(soci::session&)>& work) {
  std::unique_ptr<soci::session> session;
  {
    std::unique_lock lock(mutex_);
    const bool available = slot_freed_.wait_for(
        lock, config_.timeout, [this] { return !idle_.empty() || in_use_ < config_.pool_size; });
    if (!available) {
      return absl::UnavailableError(common::concat("database ", description(), ": all ",
                                                   config_.pool_size,
                                                   " connections busy (db.poolSize)"));
    }
    if (!idle_.empty()) {
      session = std::move(idle_.back());
      idle_.pop_back();
    }
    ++in_use_;
  }
  absl::Status status;
  if (!session) status = open(session);
  if (status.ok()) {
    try {
      work(*session);
    } catch (const std::exception& error) {
      const std::string reason =
          common::concat("database ", description(), ": ", common::trim(error.what()));
      if (refusedTheData(error)) {
        status = absl::InvalidArgumentError(reason);
      } else {
        session.reset();  // the connection may be broken: reopen on next use
        status = absl::UnavailableError(reason);
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    --in_use_;
    if (session) idle_.push_back(std::move(session));
  }
  slot_freed_.notify_one();
  return status;
}

}  // namespace tp::storage
