#include "storage/schema.h"

#include <chrono>
#include <functional>

#include "common/strings.h"
#include "soci/soci.h"

namespace tp::storage {
namespace {

enum class Type { kSerial, kInteger, kBoolean, kTimestamp, kJson, kVarchar };

struct Column {
  const char* name;
  Type type;
  int length = 0;  // for kVarchar
};

struct Table {
  const char* name;
  std::vector<Column> columns;
};

// The Lens schema (column subset and types as the Lens baseline defines them).
const std::vector<Table>& lensTables() {
  static const std::vector<Table> kTables = {
      {"gpu_pods",
       {{"id", Type::kSerial},
        {"namespace", Type::kVarchar, 64},
        {"name", Type::kVarchar, 64},
        {"node_name", Type::kVarchar, 64},
        {"uid", Type::kVarchar, 64},
        {"gpu_allocated", Type::kInteger},
        {"phase", Type::kVarchar, 64},
        {"deleted", Type::kBoolean},
        {"created_at", Type::kTimestamp},
        {"updated_at", Type::kTimestamp},
        {"owner_uid", Type::kVarchar, 64},
        {"running", Type::kBoolean},
        {"ip", Type::kVarchar, 32}}},
      {"node_container",
       {{"id", Type::kSerial},
        {"container_id", Type::kVarchar, 128},
        {"container_name", Type::kVarchar, 128},
        {"pod_uid", Type::kVarchar, 128},
        {"pod_name", Type::kVarchar, 128},
        {"pod_namespace", Type::kVarchar, 128},
        {"status", Type::kVarchar, 128},
        {"created_at", Type::kTimestamp},
        {"updated_at", Type::kTimestamp},
        {"node_name", Type::kVarchar, 128},
        {"source", Type::kVarchar, 128}}},
      {"node_container_devices",
       {{"id", Type::kSerial},
        {"container_id", Type::kVarchar, 64},
        {"device_type", Type::kVarchar, 64},
        {"device_name", Type::kVarchar, 64},
        {"device_no", Type::kInteger},
        {"device_uuid", Type::kVarchar, 64},
        {"created_at", Type::kTimestamp},
        {"restart_count", Type::kInteger},
        {"updated_at", Type::kTimestamp}}},
      {"gpu_workload",
       {{"id", Type::kSerial},
        {"group_version", Type::kVarchar, 128},
        {"kind", Type::kVarchar, 64},
        {"namespace", Type::kVarchar, 64},
        {"name", Type::kVarchar, 64},
        {"uid", Type::kVarchar, 128},
        {"parent_uid", Type::kVarchar, 128},
        {"gpu_request", Type::kInteger},
        {"created_at", Type::kTimestamp},
        {"updated_at", Type::kTimestamp},
        {"deleted_at", Type::kTimestamp},
        {"end_at", Type::kTimestamp},
        {"status", Type::kVarchar, 64},
        {"source", Type::kVarchar, 64},
        {"labels", Type::kJson},
        {"annotations", Type::kJson}}},
      {"workload_pod_reference",
       {{"id", Type::kSerial},
        {"workload_uid", Type::kVarchar, 64},
        {"pod_uid", Type::kVarchar, 64},
        {"created_at", Type::kTimestamp}}},
      {"workload_event",
       {{"id", Type::kSerial},
        {"workload_uid", Type::kVarchar, 256},
        {"type", Type::kVarchar, 256},
        {"run_serial", Type::kInteger},
        {"created_at", Type::kTimestamp},
        {"pod_uid", Type::kVarchar, 256},
        {"nearest_workload_uid", Type::kVarchar, 256}}},
      {"training_performance",
       {{"id", Type::kSerial},
        {"pod_uuid", Type::kVarchar, 256},
        {"performance", Type::kJson},
        {"iteration", Type::kInteger},
        {"created_at", Type::kTimestamp},
        {"serial", Type::kInteger},
        {"workload_uid", Type::kVarchar, 256}}},
  };
  return kTables;
}

struct Index {
  const char* name;
  const char* table;
  const char* columns;
  bool unique;
};

// Indexes the cache queries join on, and the unique keys that make row writes idempotent.
constexpr Index kCacheIndexes[] = {
    {"idx_tp_gpu_pods_uid", "gpu_pods", "uid", false},
    {"idx_tp_node_container_pod_uid", "node_container", "pod_uid", false},
    {"idx_tp_node_container_devices_container_id", "node_container_devices", "container_id", false},
    {"idx_tp_gpu_workload_uid", "gpu_workload", "uid", false},
    {"idx_tp_workload_pod_reference_pod_uid", "workload_pod_reference", "pod_uid", false},
    {"idx_tp_workload_event_workload_uid", "workload_event", "workload_uid", false},
};
constexpr Index kUniqueKeys[] = {
    {"uq_tp_workload_event_run", "workload_event", "workload_uid, nearest_workload_uid, type",
     true},
    {"uq_tp_training_performance_iteration", "training_performance",
     "workload_uid, serial, iteration", true},
};

std::string columnType(const Dialect& dialect, const Column& column) {
  switch (column.type) {
    case Type::kSerial:
      return std::string(dialect.serial_key);
    case Type::kInteger:
      return "INTEGER";
    case Type::kBoolean:
      return std::string(dialect.boolean_type);
    case Type::kTimestamp:
      return std::string(dialect.timestamp_type);
    case Type::kJson:
      return std::string(dialect.json_type);
    case Type::kVarchar:
      return common::concat("VARCHAR(", column.length, ")");
  }
  return "TEXT";
}

bool columnExists(soci::session& sql, const Table& table, const Column& column) {
  try {
    sql << common::concat("SELECT ", column.name, " FROM ", table.name, " WHERE 1 = 0");
    return true;
  } catch (const soci::soci_error&) {
    return false;
  }
}

void createTables(soci::session& sql, const Dialect& dialect) {
  for (const Table& table : lensTables()) {
    std::string ddl = common::concat("CREATE TABLE IF NOT EXISTS ", table.name, " (");
    for (size_t i = 0; i < table.columns.size(); ++i) {
      ddl += common::concat(i == 0 ? "" : ", ", table.columns[i].name, " ",
                            columnType(dialect, table.columns[i]));
    }
    ddl += ")";
    sql << ddl;
    // A Lens database from an older release may lack columns: add them, empty.
    for (const Column& column : table.columns) {
      if (column.type == Type::kSerial || columnExists(sql, table, column)) continue;
      sql << common::concat("ALTER TABLE ", table.name, " ADD COLUMN ", column.name, " ",
                            columnType(dialect, column));
    }
  }
}

bool indexExists(soci::session& sql, const Dialect& dialect, const Index& index) {
  int count = 0;
  const std::string name = index.name;
  sql << std::string(dialect.index_exists_query), soci::use(name), soci::into(count);
  return count > 0;
}

void createIndex(soci::session& sql, const Dialect& dialect, const Index& index) {
  if (indexExists(sql, dialect, index)) return;
  sql << common::concat("CREATE ", index.unique ? "UNIQUE " : "", "INDEX ", index.name, " ON ",
                        index.table, " (", index.columns, ")");
}

struct Migration {
  int version;
  const char* name;
  // Adds a warning for what it could not do but can live without; throws on failure.
  std::function<void(soci::session&, const Dialect&, std::vector<std::string>&)> apply;
};

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "lens tables",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>&) {
         createTables(sql, dialect);
       }},
      {2, "cache indexes",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>&) {
         for (const Index& index : kCacheIndexes) createIndex(sql, dialect, index);
       }},
      {3, "unique keys for idempotent writes",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         for (const Index& index : kUniqueKeys) {
           try {
             createIndex(sql, dialect, index);
           } catch (const soci::soci_error& error) {
             warnings.push_back(common::concat(
                 "cannot create unique key ", index.name, " on ", index.table, " (", index.columns,
                 "); existing rows may repeat it: ", common::trim(error.what())));
           }
         }
       }},
  };
  return kMigrations;
}

void ensureMigrationTable(soci::session& sql) {
  sql << "CREATE TABLE IF NOT EXISTS tp_schema_migrations (version INTEGER PRIMARY KEY, "
         "name VARCHAR(128), applied_at VARCHAR(64))";
}

bool applied(soci::session& sql, int version) {
  int count = 0;
  sql << "SELECT count(*) FROM tp_schema_migrations WHERE version = :v", soci::use(version),
      soci::into(count);
  return count > 0;
}

void record(soci::session& sql, const Migration& migration) {
  const std::string name = migration.name;
  const std::string now = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  try {
    sql << "INSERT INTO tp_schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)",
        soci::use(migration.version), soci::use(name), soci::use(now);
  } catch (const soci::soci_error&) {
    // Another replica recorded it between our check and our insert: the same outcome.
    if (!applied(sql, migration.version)) throw;
  }
}

}  // namespace

std::vector<std::string> migrationNames() {
  std::vector<std::string> names;
  for (const auto& migration : migrations()) names.emplace_back(migration.name);
  return names;
}

absl::Status ensureSchema(Database& database, std::vector<std::string>* warnings) {
  std::vector<std::string> collected;
  absl::Status status = database.run([&](soci::session& sql) {
    ensureMigrationTable(sql);
    for (const Migration& migration : migrations()) {
      if (applied(sql, migration.version)) continue;
      const size_t warnings_before = collected.size();
      migration.apply(sql, database.dialect(), collected);
      // Left unrecorded when incomplete, so that the next start tries again.
      if (collected.size() == warnings_before) record(sql, migration);
    }
  });
  if (warnings != nullptr) *warnings = std::move(collected);
  return status;
}

}  // namespace tp::storage
