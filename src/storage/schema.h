#pragma once
// The Lens tables the processor reads and writes, with Lens column names and per-backend types,
// and the versioned migrations that create what is missing. Migrations only add: tables,
// columns, indexes; they never drop or rewrite data, so they are safe on an existing Lens
// database and when several replicas start at once.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/database.h"

namespace tp::storage {

// Creates missing tables, columns and indexes; records each applied migration in
// tp_schema_migrations. A unique key that cannot be created because existing rows violate it
// is reported in the returned warnings, not as an error: the processor still works.
absl::Status ensureSchema(Database& database, std::vector<std::string>* warnings);

// Names of the migrations in order, for tests and docs.
std::vector<std::string> migrationNames();

}  // namespace tp::storage
