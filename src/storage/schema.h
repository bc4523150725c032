#pragma once
// The Lens tables the processor reads and writes, with Lens column names and per-backend types,
// and the versioned migrations that create what is missing. Migrations only add: tables,
// columns, indexes; they never drop or rewrite data, so they are safe on an existing Lens
// database and when several replicas start at once.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/database.h"

namespace tp::storage {

// Creates missing tables, columns and indexes; records each applied migration in
// tp_schema_migrations. A step that fails (a unique key that existing duplicates violate, a table
// the role does not own) is reported in the returned warnings, not as an error: the processor
// still works, and the migration stays unrecorded so that the next call tries it again. The
// error is the database being unreachable.
absl::Status ensureSchema(Database& database, std::vector<std::string>* warnings);

// Tables whose insert-if-absent unique key is missing: their writes are still exactly-once for
// one writer (guarded inserts), but concurrent replicas can race and write a row twice.
absl::StatusOr<std::vector<std::string>> tablesWithoutUniqueKey(Database& database);

struct DuplicateReport {
  std::string table;
  std::string key;  // the unique key's columns
  bool key_present = false;
  uint64_t duplicate_groups = 0;  // key values held by more than one row
  uint64_t extra_rows = 0;        // rows beyond the first of each group
  uint64_t deleted_rows = 0;
};

// For each unique key: the rows that block it. With `apply`, deletes them (keeping the oldest,
// lowest id, of each group) and creates the key.
absl::StatusOr<std::vector<DuplicateReport>> dedupe(Database& database, bool apply);

// Names of the migrations in order, for tests and docs.
std::vector<std::string> migrationNames();

}  // namespace tp::storage
