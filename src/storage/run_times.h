#pragma once
// The runs as the runs API and training-health detection both read them: one row per StartTrain
// event's (workload_uid, run_serial), with the times that decide its state (RunState), each
// computed by the backend in microseconds since the epoch.

#include <string>
#include <string_view>

#include "storage/dialect.h"

namespace tp::storage {

// A derived table `runs` with the columns workload_uid, run_serial, nearest_workload_uid,
// workload_name and namespace_name (gpu_workload's, of workload_uid; NULL without a row), and
// the times (NULL: none)
//   started_us     its StartTrain event
//   ended_us       its EndTrain event
//   superseded_us  the next run's StartTrain event
//   gone_us        its workload (the nearest workload's gpu_workload row, else workload_uid's)
//                  is not Running: since end_at, else deleted_at, else updated_at; 0: none set
//   stalled_us     its latest TrainingStalled event without a TrainingResumed of its occurrence
//   resumed_us     its latest TrainingResumed event
// `condition` (SQL, may be empty) restricts the StartTrain events, alias `e`, before the times
// are computed; its placeholders come first in the statement.
std::string runTimesTable(Driver driver, std::string_view condition);

// SQL giving, for a row of `runs`, the value of its RunState (the first that holds: ended,
// superseded, gone, stalled, running) and when that state began (RunSummary::since_us).
std::string runStateExpression();
std::string stateSinceExpression();

}  // namespace tp::storage
