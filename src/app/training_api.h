#pragma once
// The training runs API and the training-metrics APIs, answered from the database (so that any
// replica answers the same) in the Lens envelope, each response bounded:
//   GET /training/runs                              runs with their progress and checkpoints
//   GET /training/{workload_uid}/available|data     metrics in Lens's shapes, also at Lens's own
//   GET /workloads/{workload_uid}/metrics/available|data      paths
//   GET /api/v1/training/{workload_uid}/available|data        the robust-api shapes that the
//                                                   Primus SaFE apiserver reads since 2026-04
//   GET /training/{workload_uid}/goodput|events     the workload's goodput and health events
// Metric names are the performance document's fields (lm_loss, tflops, ...); non-finite values
// are left out, as Lens did: JSON has no NaN and the clients decode values as float64. A bad
// parameter is a 400 naming it; an unreachable database a 503. docs/TRAINING.md has examples.

#include "common/clock.h"
#include "http/router.h"
#include "storage/database.h"

namespace tp::app {

// At most this many metric values in one data response; beyond, `next_cursor` continues.
inline constexpr size_t kMaxMetricValues = 100'000;
// At most this many rows read for one answer: `available` then counts those (`truncated`), `data`
// continues with `next_cursor`.
inline constexpr size_t kMaxScannedRows = 500'000;
inline constexpr size_t kDefaultRunLimit = 100;
inline constexpr size_t kMaxRunLimit = 1000;

// Registers the routes above; `database` must outlive `router`. `clock` gives the goodput's "now".
void addTrainingRoutes(http::Router& router, storage::Database& database,
                       const common::Clock& clock = common::systemClock());

}  // namespace tp::app
