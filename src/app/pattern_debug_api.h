#pragma once
// The pattern debugging API, in Lens's shapes and envelope:
//   POST /debug/test-log-match  {"log":"..."}: what the logs path would make of the line, now,
//                               with every pattern that matched it (configured, database and
//                               built-in, blacklist and event patterns too) and the one that
//                               decides. No side effects: no hit is counted.
//   GET  /debug/frameworks      the patterns in use: counts by type, the database rows left out.
// docs/TRAINING.md ("Patterns in the database") has examples.

#include <string_view>

#include "http/router.h"
#include "training/pattern_registry.h"

namespace tp::app {

// The test-log-match request's log line; InvalidArgument naming what is wrong with the body.
absl::StatusOr<std::string> parseLogMatchRequest(std::string_view body);

// Registers the routes above; `registry` must outlive `router`.
void addPatternDebugRoutes(http::Router& router, const training::PatternRegistry& registry);

}  // namespace tp::app
