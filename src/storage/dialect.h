#pragma once
// The SQL that differs between the three backends: column types, and the statements that ask
// whether an index or a column exists. Everything else the processor sends is portable SQL.

#include <string>
#include <string_view>

#include "config/config.h"

namespace tp::storage {

// db.driver, as configured.
using Driver = config::DbDriver;

struct Dialect {
  Driver driver;
  std::string_view serial_key;  // auto-increment primary key column type
  std::string_view json_type;   // jsonb on PostgreSQL, as Lens has it
  std::string_view timestamp_type;
  std::string_view boolean_type;
  // Counts indexes named :name (one bound parameter).
  std::string_view index_exists_query;
};

const Dialect& dialectFor(Driver driver);

}  // namespace tp::storage
