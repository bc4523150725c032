#pragma once
// `telemetry-processor db dedupe [--apply]`: a database written by older writers may hold
// duplicate training rows and events, which keep the unique keys of exactly-once writes from
// being created. Lists them per table (a dry run), or deletes all but the oldest of each and
// creates the keys.

#include <ostream>

#include "absl/status/status.h"
#include "storage/database.h"

namespace tp::app {

absl::Status runDedupe(storage::Database& database, bool apply, std::ostream& output);

}  // namespace tp::app
