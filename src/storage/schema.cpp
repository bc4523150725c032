#include "storage/schema.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <span>

#include "common/status.h"
#include "common/strings.h"
#include "soci/mysql/soci-mysql.h"
#include "soci/soci.h"

namespace tp::storage {
namespace {

enum class Type {
  kSerial,
  kBigSerial,
  kInteger,
  kBigInt,
  kBoolean,
  kTimestamp,
  kZonelessTimestamp,
  kJson,
  kVarchar,
  kText,
  kDouble
};

struct Column {
  const char* name;
  Type type;
  int length = 0;     // for kVarchar
  int migration = 0;  // the migration that adds it to an existing table; 0: its table's
  const char* default_value = nullptr;  // SQL of the DEFAULT clause, for rows written by others
};

struct Table {
  const char* name;
  std::vector<Column> columns;
  int migration = 1;  // the migration that creates it
};

// The Lens schema (column subset and types as the Lens baseline defines them), the columns the
// processor adds to it, and the processor's own tables.
const std::vector<Table>& knownTables() {
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
        {"nearest_workload_uid", Type::kVarchar, 256},
        // Training-health events: what they found, and the iteration that names them.
        {.name = "detail", .type = Type::kJson, .migration = 5},
        {.name = "occurrence", .type = Type::kBigInt, .migration = 5}}},
      {"training_performance",
       {{"id", Type::kSerial},
        {"pod_uuid", Type::kVarchar, 256},
        {"performance", Type::kJson},
        {"iteration", Type::kInteger},
        {"created_at", Type::kTimestamp},
        {"serial", Type::kInteger},
        {"workload_uid", Type::kVarchar, 256}}},
      // Lens's later checkpoint_event (its setup_primus_lens.sql), one row per save or load.
      {"checkpoint_event",
       {{"id", Type::kBigSerial},
        {"workload_uid", Type::kVarchar, 255},
        {"pod_uuid", Type::kVarchar, 255},
        {"iteration", Type::kInteger},
        {"checkpoint_path", Type::kText},
        {"event_type", Type::kVarchar, 50},
        {"start_time", Type::kZonelessTimestamp},
        {"end_time", Type::kZonelessTimestamp},
        {"duration_ms", Type::kBigInt},
        {"size_bytes", Type::kBigInt},
        {"is_fast_ckpt", Type::kBoolean},
        {"metadata", Type::kJson},
        {"created_at", Type::kZonelessTimestamp},
        {"serial", Type::kInteger},
        {"status", Type::kVarchar, 50}},
       4},
      // A lease per task that one replica at a time does (holdLease).
      {"tp_leases",
       {{"id", Type::kSerial},
        {"name", Type::kVarchar, 128},
        {"holder", Type::kVarchar, 256},
        {"expires_us", Type::kBigInt}},
       5},
      // Lens's log pattern registry (its patch071), read by training/pattern_registry.cpp. The
      // defaults are Lens's, for rows that operators insert naming only some columns.
      {"training_log_pattern",
       {{"id", Type::kBigSerial},
        {"pattern", Type::kText},
        {.name = "pattern_type",
         .type = Type::kVarchar,
         .length = 32,
         .default_value = "'performance'"},
        {"event_subtype", Type::kVarchar, 32},
        {.name = "source", .type = Type::kVarchar, .length = 32, .default_value = "'manual'"},
        {"source_workload_uid", Type::kVarchar, 256},
        {"framework", Type::kVarchar, 64},
        {"name", Type::kVarchar, 256},
        {"description", Type::kText},
        {"sample_line", Type::kText},
        {.name = "enabled", .type = Type::kBoolean, .default_value = "FALSE"},
        {.name = "priority", .type = Type::kInteger, .default_value = "50"},
        {.name = "confidence", .type = Type::kDouble, .default_value = "0.5"},
        {.name = "hit_count", .type = Type::kBigInt, .default_value = "0"},
        {"last_hit_at", Type::kTimestamp},
        {.name = "created_at", .type = Type::kTimestamp, .default_value = "CURRENT_TIMESTAMP"},
        {.name = "updated_at", .type = Type::kTimestamp, .default_value = "CURRENT_TIMESTAMP"}},
       6},
  };
  return kTables;
}

struct Index {
  const char* name;
  const char* table;
  const char* columns;
  bool unique;
  int migration;  // the migration that creates it
};

// Indexes the cache queries join on, and the unique keys that make row writes idempotent.
constexpr Index kCacheIndexes[] = {
    {"idx_tp_gpu_pods_uid", "gpu_pods", "uid", false, 2},
    {"idx_tp_node_container_pod_uid", "node_container", "pod_uid", false, 2},
    {"idx_tp_node_container_devices_container_id", "node_container_devices", "container_id", false,
     2},
    {"idx_tp_gpu_workload_uid", "gpu_workload", "uid", false, 2},
    {"idx_tp_workload_pod_reference_pod_uid", "workload_pod_reference", "pod_uid", false, 2},
    {"idx_tp_workload_event_workload_uid", "workload_event", "workload_uid", false, 2},
};
constexpr Index kUniqueKeys[] = {
    {"uq_tp_workload_event_run", "workload_event", "workload_uid, nearest_workload_uid, type", true,
     3},
    {"uq_tp_training_performance_iteration", "training_performance",
     "workload_uid, serial, iteration", true, 3},
    {"uq_tp_checkpoint_event_operation", "checkpoint_event",
     "workload_uid, serial, iteration, event_type", true, 4},
    // Health events. StartTrain and EndTrain have no occurrence: NULLs are distinct in a key.
    {"uq_tp_workload_event_occurrence", "workload_event",
     "workload_uid, run_serial, type, occurrence", true, 5},
    {"uq_tp_leases_name", "tp_leases", "name", true, 5},
};

std::string columnType(const Dialect& dialect, const Column& column) {
  switch (column.type) {
    case Type::kSerial:
      return std::string(dialect.serial_key);
    case Type::kBigSerial:
      return std::string(dialect.big_serial_key);
    case Type::kInteger:
      return "INTEGER";
    case Type::kBigInt:
      return "BIGINT";
    case Type::kBoolean:
      return std::string(dialect.boolean_type);
    case Type::kTimestamp:
      return std::string(dialect.timestamp_type);
    case Type::kZonelessTimestamp:
      return std::string(dialect.zoneless_timestamp_type);
    case Type::kJson:
      return std::string(dialect.json_type);
    case Type::kVarchar:
      return common::concat("VARCHAR(", column.length, ")");
    case Type::kText:
      return "TEXT";
    case Type::kDouble:
      return "DOUBLE PRECISION";
  }
  return "TEXT";
}

// The column's type and its DEFAULT clause, if it has one.
std::string columnDefinition(const Dialect& dialect, const Column& column) {
  std::string definition = columnType(dialect, column);
  if (column.default_value != nullptr) {
    // MySQL wants the default's precision to be the column's, DATETIME(6).
    const bool fractional = dialect.driver == Driver::kMysql && column.type == Type::kTimestamp;
    definition += common::concat(" DEFAULT ", column.default_value, fractional ? "(6)" : "");
  }
  return definition;
}

const Table& tableNamed(std::string_view name) {
  for (const Table& table : knownTables()) {
    if (table.name == name) return table;
  }
  return knownTables().front();  // callers pass the tables listed above
}

// The key prefix a text column takes on MySQL: 255 characters, or all of a shorter VARCHAR (a
// prefix longer than the column is refused); 0 for other columns.
int keyPrefix(const Table& table, std::string_view column) {
  for (const Column& known : table.columns) {
    if (known.name != column) continue;
    if (known.type == Type::kText) return 255;
    if (known.type == Type::kVarchar) return std::min(255, known.length);
  }
  return 0;
}

// Runs one schema step; a failure becomes a warning naming the step, and the steps after it
// still run (a role that may not alter a table can still read and insert).
void attempt(std::vector<std::string>& warnings, std::string_view step,
             const std::function<void()>& work) {
  try {
    work();
  } catch (const std::exception& error) {
    warnings.push_back(common::concat(step, ": ", common::trim(error.what())));
  }
}

bool columnExists(soci::session& sql, const Table& table, const Column& column) {
  try {
    sql << common::concat("SELECT ", column.name, " FROM ", table.name, " WHERE 1 = 0");
    return true;
  } catch (const soci::soci_error&) {
    return false;
  }
}

int migrationOf(const Table& table, const Column& column) {
  return column.migration != 0 ? column.migration : table.migration;
}

// Creates the tables of `migration` with their columns of it, and adds the columns of
// `migration` to the tables that lack them.
void createTables(soci::session& sql, const Dialect& dialect, int migration,
                  std::vector<std::string>& warnings) {
  for (const Table& table : knownTables()) {
    if (table.migration == migration) {
      std::string ddl = common::concat("CREATE TABLE IF NOT EXISTS ", table.name, " (");
      std::string_view separator;
      for (const Column& column : table.columns) {
        if (migrationOf(table, column) != migration) continue;
        ddl += common::concat(separator, column.name, " ", columnDefinition(dialect, column));
        separator = ", ";
      }
      ddl += ")";
      attempt(warnings, common::concat("cannot create table ", table.name), [&] { sql << ddl; });
    }
    // A Lens database from an older release may lack columns, and a table of an earlier
    // migration lacks those added since: add them, empty.
    for (const Column& column : table.columns) {
      const bool key = column.type == Type::kSerial || column.type == Type::kBigSerial;
      if (migrationOf(table, column) != migration || key || columnExists(sql, table, column)) {
        continue;
      }
      attempt(warnings, common::concat("cannot add column ", table.name, ".", column.name), [&] {
        sql << common::concat("ALTER TABLE ", table.name, " ADD COLUMN ", column.name, " ",
                              columnDefinition(dialect, column));
      });
    }
  }
}

bool indexExists(soci::session& sql, const Dialect& dialect, const Index& index) {
  int count = 0;
  const std::string name = index.name;
  sql << std::string(dialect.index_exists_query), soci::use(name), soci::into(count);
  return count > 0;
}

// "a, b" with a key prefix on each text column: MySQL indexes TEXT columns (which some Lens
// databases have for uids) only by a prefix.
std::string prefixedColumns(const Index& index) {
  std::string columns;
  for (std::string_view column : common::splitTrimmed(index.columns, ',')) {
    const int prefix = keyPrefix(tableNamed(index.table), column);
    columns += common::concat(columns.empty() ? "" : ", ", column,
                              prefix > 0 ? common::concat("(", prefix, ")") : "");
  }
  return columns;
}

void createIndex(soci::session& sql, const Dialect& dialect, const Index& index) {
  if (indexExists(sql, dialect, index)) return;
  const auto create = [&](std::string_view columns) {
    sql << common::concat("CREATE ", index.unique ? "UNIQUE " : "", "INDEX ", index.name, " ON ",
                          index.table, " (", columns, ")");
  };
  try {
    create(index.columns);
  } catch (const soci::mysql_soci_error& error) {
    constexpr unsigned kTextColumnWithoutKeyLength = 1170;
    if (error.err_num_ != kTextColumnWithoutKeyLength) throw;
    create(prefixedColumns(index));
  }
}

struct Migration {
  int version;
  const char* name;
  // Adds a warning for each step it could not do; the processor works without them.
  std::function<void(soci::session&, const Dialect&, std::vector<std::string>&)> apply;
};

void createIndexes(soci::session& sql, const Dialect& dialect, std::span<const Index> indexes,
                   int migration, std::vector<std::string>& warnings) {
  for (const Index& index : indexes) {
    if (index.migration != migration) continue;
    attempt(warnings,
            common::concat("cannot create ", index.unique ? "unique key " : "index ", index.name,
                           " on ", index.table, " (", index.columns, ")"),
            [&] { createIndex(sql, dialect, index); });
  }
}

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "lens tables",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         createTables(sql, dialect, 1, warnings);
       }},
      {2, "cache indexes",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         createIndexes(sql, dialect, kCacheIndexes, 2, warnings);
       }},
      {3, "unique keys for idempotent writes",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         createIndexes(sql, dialect, kUniqueKeys, 3, warnings);
       }},
      {4, "checkpoint_event and its unique key",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         createTables(sql, dialect, 4, warnings);
         createIndexes(sql, dialect, kUniqueKeys, 4, warnings);
       }},
      {5, "training health events and leases",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         createTables(sql, dialect, 5, warnings);
         createIndexes(sql, dialect, kUniqueKeys, 5, warnings);
       }},
      {6, "training_log_pattern",
       [](soci::session& sql, const Dialect& dialect, std::vector<std::string>& warnings) {
         createTables(sql, dialect, 6, warnings);
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

// The groups of rows that share a unique key's columns, beyond the first of each group.
std::string duplicatesQuery(const Index& key) {
  std::string not_null;
  for (std::string_view column : common::splitTrimmed(key.columns, ',')) {
    not_null += common::concat(not_null.empty() ? "" : " AND ", column, " IS NOT NULL");
  }
  return common::concat(
      "SELECT count(*), COALESCE(sum(copies - 1), 0) FROM (SELECT count(*) AS "
      "copies FROM ",
      key.table, " WHERE ", not_null, " GROUP BY ", key.columns,
      " HAVING count(*) > 1) duplicate_groups");
}

// Deletes every row of a duplicate group but the oldest (lowest id). MySQL may not read the
// table it deletes from, except through a derived table: hence the second level.
std::string deleteDuplicates(const Index& key) {
  std::string not_null;
  for (std::string_view column : common::splitTrimmed(key.columns, ',')) {
    not_null += common::concat(not_null.empty() ? "" : " AND ", column, " IS NOT NULL");
  }
  return common::concat("DELETE FROM ", key.table, " WHERE ", not_null,
                        " AND id NOT IN (SELECT keep_id FROM (SELECT min(id) AS keep_id FROM ",
                        key.table, " WHERE ", not_null, " GROUP BY ", key.columns, ") oldest)");
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
    bool tracked = true;
    attempt(collected, "cannot create tp_schema_migrations (migrations run again each time)",
            [&] { ensureMigrationTable(sql); });
    tracked = collected.empty();
    for (const Migration& migration : migrations()) {
      if (tracked && applied(sql, migration.version)) continue;
      const size_t warnings_before = collected.size();
      migration.apply(sql, database.dialect(), collected);
      // Left unrecorded when incomplete, so that the next refresh tries again.
      if (tracked && collected.size() == warnings_before) {
        attempt(collected, common::concat("cannot record migration ", migration.version),
                [&] { record(sql, migration); });
      }
    }
  });
  if (warnings != nullptr) *warnings = std::move(collected);
  return status;
}

absl::StatusOr<std::vector<std::string>> tablesWithoutUniqueKey(Database& database) {
  std::vector<std::string> tables;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    for (const Index& key : kUniqueKeys) {
      if (!indexExists(sql, database.dialect(), key)) tables.emplace_back(key.table);
    }
  }));
  return tables;
}

absl::StatusOr<std::vector<DuplicateReport>> dedupe(Database& database, bool apply) {
  std::vector<DuplicateReport> reports;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    for (const Index& key : kUniqueKeys) {
      DuplicateReport report{.table = key.table, .key = key.columns};
      report.key_present = indexExists(sql, database.dialect(), key);
      long long groups = 0, extra = 0;
      sql << duplicatesQuery(key), soci::into(groups), soci::into(extra);
      report.duplicate_groups = static_cast<uint64_t>(groups);
      report.extra_rows = static_cast<uint64_t>(extra);
      if (apply && !report.key_present) {
        if (extra > 0) {
          soci::statement deletion = (sql.prepare << deleteDuplicates(key));
          deletion.execute(true);
          report.deleted_rows = static_cast<uint64_t>(std::max(0LL, deletion.get_affected_rows()));
        }
        createIndex(sql, database.dialect(), key);
        report.key_present = true;
      }
      reports.push_back(std::move(report));
    }
  }));
  return reports;
}

}  // namespace tp::storage
