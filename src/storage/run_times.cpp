#include "storage/run_times.h"

#include "common/strings.h"
#include "storage/training_health.h"
#include "storage/training_queries.h"
#include "storage/training_rows.h"

namespace tp::storage {
namespace {

int valueOf(RunState state) { return static_cast<int>(state); }

// When the workload `uid` (SQL) stopped Running, by its newest gpu_workload row: end_at, else
// deleted_at, else updated_at, 0 without any; NULL while it runs or without a row.
std::string goneSince(Driver driver, std::string_view uid) {
  return common::concat("(SELECT CASE WHEN g.status <> 'Running' THEN COALESCE(",
                        epochMicros(driver, "COALESCE(g.end_at, g.deleted_at, g.updated_at)"),
                        ", 0) END FROM gpu_workload g WHERE g.uid = ", uid,
                        " ORDER BY g.id DESC LIMIT 1)");
}

}  // namespace

std::string runTimesTable(Driver driver, std::string_view condition) {
  const std::string starts = common::concat(
      "SELECT e.workload_uid, e.run_serial, MIN(e.nearest_workload_uid) AS nearest_workload_uid, ",
      epochMicros(driver, "MIN(e.created_at)"), " AS started_us FROM workload_event e WHERE ",
      "e.type = '", kStartTrainEventType, "'", condition.empty() ? "" : " AND ", condition,
      " GROUP BY e.workload_uid, e.run_serial");
  const std::string of_run =
      "x.workload_uid = r.workload_uid AND x.run_serial = r.run_serial AND x.type = ";
  const std::string ended =
      common::concat("(SELECT ", epochMicros(driver, "MIN(x.created_at)"),
                     " FROM workload_event x WHERE ", of_run, "'", kEndTrainEventType, "')");
  const std::string superseded = common::concat(
      "(SELECT ", epochMicros(driver, "x.created_at"),
      " FROM workload_event x WHERE x.workload_uid = r.workload_uid AND x.type = '",
      kStartTrainEventType,
      "' AND x.run_serial > r.run_serial ORDER BY x.run_serial, x.created_at LIMIT 1)");
  // The nearest workload's row when it has one, else workload_uid's.
  const std::string gone = common::concat(
      "CASE WHEN EXISTS (SELECT 1 FROM gpu_workload g WHERE g.uid = r.nearest_workload_uid) THEN ",
      goneSince(driver, "r.nearest_workload_uid"), " ELSE ", goneSince(driver, "r.workload_uid"),
      " END");
  const std::string_view resumed = nameOf(HealthEventType::kTrainingResumed);
  const std::string stalled = common::concat(
      "(SELECT ", epochMicros(driver, "MAX(x.created_at)"), " FROM workload_event x WHERE ", of_run,
      "'", nameOf(HealthEventType::kTrainingStalled),
      "' AND NOT EXISTS (SELECT 1 FROM workload_event y WHERE y.workload_uid = x.workload_uid "
      "AND y.run_serial = x.run_serial AND y.type = '",
      resumed, "' AND y.occurrence = x.occurrence))");
  const std::string last_resumed =
      common::concat("(SELECT ", epochMicros(driver, "MAX(x.created_at)"),
                     " FROM workload_event x WHERE ", of_run, "'", resumed, "')");
  return common::concat(
      "(SELECT r.workload_uid, r.run_serial, r.nearest_workload_uid, r.started_us, ", ended,
      " AS ended_us, ", superseded, " AS superseded_us, ",
      "(SELECT MIN(g.name) FROM gpu_workload g WHERE g.uid = r.workload_uid) AS workload_name, ",
      "(SELECT MIN(g.namespace) FROM gpu_workload g WHERE g.uid = r.workload_uid) AS "
      "namespace_name, ",
      gone, " AS gone_us, ", stalled, " AS stalled_us, ", last_resumed, " AS resumed_us FROM (",
      starts, ") r) runs");
}

std::string runStateExpression() {
  return common::concat("CASE WHEN runs.ended_us IS NOT NULL THEN ", valueOf(RunState::kEnded),
                        " WHEN runs.superseded_us IS NOT NULL THEN ",
                        valueOf(RunState::kSuperseded), " WHEN runs.gone_us IS NOT NULL THEN ",
                        valueOf(RunState::kGone), " WHEN runs.stalled_us IS NOT NULL THEN ",
                        valueOf(RunState::kStalled), " ELSE ", valueOf(RunState::kRunning), " END");
}

std::string stateSinceExpression() {
  return "CASE WHEN runs.ended_us IS NOT NULL THEN runs.ended_us "
         "WHEN runs.superseded_us IS NOT NULL THEN runs.superseded_us "
         "WHEN runs.gone_us > 0 THEN runs.gone_us WHEN runs.gone_us IS NOT NULL THEN "
         "runs.started_us WHEN runs.stalled_us IS NOT NULL THEN runs.stalled_us "
         "ELSE COALESCE(runs.resumed_us, runs.started_us) END";
}

}  // namespace tp::storage
