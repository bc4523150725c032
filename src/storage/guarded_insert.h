#pragma once
// Insert-if-absent statements, shared by the writers of workload_event, training_performance and
// checkpoint_event rows: a replayed or concurrent write of a row already present is a no-op.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "storage/dialect.h"

namespace tp::storage {

struct InsertColumn {
  const char* name;
  // PostgreSQL types a parameter of a UNION as text; the others convert on insert.
  const char* postgres_cast;  // nullptr: text
};

// "INSERT INTO t (a, b) SELECT v.a, v.b FROM (SELECT :p0 AS a, :p1 AS b UNION ALL SELECT :p2, :p3)
// v WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.k = v.k ...) ON CONFLICT DO NOTHING" for `rows`
// rows, their values bound in column order. The NOT EXISTS guard makes the write exactly-once for
// new rows even where a unique key could not be created (a database with old duplicates); the
// suffix covers the race between the guard and the insert when the key exists. Affected rows are
// then rows inserted on every backend: no duplicate is "updated" (SOCI's MySQL backend connects
// with CLIENT_FOUND_ROWS, which would count such updates as written).
std::string guardedInsert(Driver driver, std::string_view table,
                          std::span<const InsertColumn> columns, std::string_view key_condition,
                          size_t rows);

}  // namespace tp::storage
