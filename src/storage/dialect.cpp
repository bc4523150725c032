#include "storage/dialect.h"

#include "common/strings.h"

namespace tp::storage {

const Dialect& dialectFor(Driver driver) {
  static const Dialect kSqlite{
      .driver = Driver::kSqlite,
      .serial_key = "INTEGER PRIMARY KEY AUTOINCREMENT",
      .big_serial_key = "INTEGER PRIMARY KEY AUTOINCREMENT",  // SQLite integers are 64-bit
      .json_type = "TEXT",
      .timestamp_type = "TIMESTAMP",
      .zoneless_timestamp_type = "TIMESTAMP",
      .boolean_type = "BOOLEAN",
      .index_exists_query =
          "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = :name"};
  static const Dialect kPostgres{
      .driver = Driver::kPostgres,
      .serial_key = "SERIAL PRIMARY KEY",
      .big_serial_key = "BIGSERIAL PRIMARY KEY",
      .json_type = "JSONB",
      .timestamp_type = "TIMESTAMP WITH TIME ZONE",
      .zoneless_timestamp_type = "TIMESTAMP",
      .boolean_type = "BOOLEAN",
      .index_exists_query = "SELECT count(*) FROM pg_indexes WHERE indexname = :name"};
  static const Dialect kMysql{.driver = Driver::kMysql,
                              .serial_key = "INT AUTO_INCREMENT PRIMARY KEY",
                              .big_serial_key = "BIGINT AUTO_INCREMENT PRIMARY KEY",
                              .json_type = "JSON",
                              .timestamp_type = "DATETIME(6)",
                              .zoneless_timestamp_type = "DATETIME(6)",
                              .boolean_type = "BOOLEAN",
                              .index_exists_query =
                                  "SELECT count(*) FROM information_schema.statistics "
                                  "WHERE table_schema = DATABASE() AND index_name = :name"};
  switch (driver) {
    case Driver::kSqlite:
      return kSqlite;
    case Driver::kPostgres:
      return kPostgres;
    case Driver::kMysql:
      return kMysql;
  }
  return kSqlite;
}

std::string epochMicros(Driver driver, std::string_view expression) {
  switch (driver) {
    case Driver::kPostgres:
      // EXTRACT gives numeric seconds (exact); a zoneless timestamp counts as UTC.
      return common::concat("CAST(EXTRACT(EPOCH FROM ", expression, ") * 1000000 AS BIGINT)");
    case Driver::kMysql:
      // UNIX_TIMESTAMP would read the DATETIME in the session's time zone.
      return common::concat("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ", expression, ")");
    case Driver::kSqlite:
      break;
  }
  // Text "YYYY-MM-DD HH:MM:SS[.ffffff]": whole seconds from strftime, the fraction from its
  // digits (julianday's double is some 50 us coarse).
  return common::concat("(CAST(strftime('%s', ", expression, ") AS INTEGER) * 1000000 + ",
                        "CAST(substr(", expression, " || '000000', 21, 6) AS INTEGER))");
}

}  // namespace tp::storage
