#pragma once
// GET /ui/api/patterns: the console's Patterns page. Every pattern lines meet, in the order they
// meet them: configured, database rows (with their priority, source and shadow state), built-in
// formats and lifecycle lines; the lines each matched in this process; the database rows left
// out and why; when the table was last read.

#include "http/router.h"
#include "storage/database.h"
#include "telemetry/telemetry.h"
#include "training/pattern_registry.h"

namespace tp::console {

void addPatternsRoute(http::Router& router, const training::PatternRegistry& patterns,
                      storage::Database& database, const telemetry::Telemetry& telemetry);

}  // namespace tp::console
