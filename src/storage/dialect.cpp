#include "storage/dialect.h"

namespace tp::storage {

const Dialect& dialectFor(Driver driver) {
  static const Dialect kSqlite{
      Driver::kSqlite, "INTEGER PRIMARY KEY AUTOINCREMENT",
      "TEXT",          "TIMESTAMP",
      "BOOLEAN",       "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = :name"};
  static const Dialect kPostgres{
      Driver::kPostgres, "SERIAL PRIMARY KEY",
      "JSONB",           "TIMESTAMP WITH TIME ZONE",
      "BOOLEAN",         "SELECT count(*) FROM pg_indexes WHERE indexname = :name"};
  static const Dialect kMysql{Driver::kMysql,
                              "INT AUTO_INCREMENT PRIMARY KEY",
                              "JSON",
                              "DATETIME(6)",
                              "BOOLEAN",
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

}  // namespace tp::storage
