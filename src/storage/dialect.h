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
  std::string_view serial_key;      // auto-increment primary key column type
  std::string_view big_serial_key;  // the same, 64-bit (Lens's BIGSERIAL)
  std::string_view json_type;       // jsonb on PostgreSQL, as Lens has it
  std::string_view timestamp_type;
  // Lens's checkpoint_event has TIMESTAMP without time zone on PostgreSQL; it holds UTC.
  std::string_view zoneless_timestamp_type;
  std::string_view boolean_type;
  // Counts indexes named :name (one bound parameter).
  std::string_view index_exists_query;
};

const Dialect& dialectFor(Driver driver);

// SQL giving the microseconds since the epoch of the timestamp `expression` (UTC, as written by
// formatTimestamp), exactly: SOCI reads timestamps as std::tm, whole seconds.
std::string epochMicros(Driver driver, std::string_view expression);

}  // namespace tp::storage
