#include "storage/training_health.h"

#include <soci/soci.h>

#include <algorithm>

#include "common/status.h"
#include "common/strings.h"
#include "storage/guarded_insert.h"
#include "storage/run_times.h"
#include "storage/statement.h"
#include "storage/training_rows.h"

namespace tp::storage {
namespace {

// "workload_uid = ? AND serial = ?" with the run's values bound.
std::string runCondition(Driver driver, const RunKey& run, Binder& binder, size_t& next) {
  std::string condition = common::concat("workload_uid = ", placeholder(driver, next),
                                         " AND serial = ", placeholder(driver, next));
  binder.text(run.workload_uid);
  binder.integer(run.serial);
  return condition;
}

// The one value of a single-row aggregate statement over the run's rows; nullopt when NULL.
absl::StatusOr<std::optional<int64_t>> readRunValue(Database& database, const RunKey& run,
                                                    std::string_view select, std::string_view table,
                                                    std::string_view condition) {
  const Driver driver = database.dialect().driver;
  std::optional<int64_t> value;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    soci::statement statement(sql);
    Binder binder(statement);
    size_t next = 0;
    const std::string text = common::concat("SELECT ", select, " FROM ", table, " WHERE ",
                                            runCondition(driver, run, binder, next), condition);
    long long found = 0;
    soci::indicator present = soci::i_null;
    statement.exchange(soci::into(found, present));
    prepare(statement, text);
    if (statement.execute(true) && present == soci::i_ok) value = found;
  }));
  return value;
}

}  // namespace

std::string_view nameOf(HealthEventType type) {
  switch (type) {
    case HealthEventType::kTrainingStalled:
      return "TrainingStalled";
    case HealthEventType::kTrainingResumed:
      return "TrainingResumed";
    case HealthEventType::kNanIterations:
      return "NanIterations";
    case HealthEventType::kSkippedIterations:
      return "SkippedIterations";
    case HealthEventType::kLossSpike:
      return "LossSpike";
    case HealthEventType::kThroughputDrop:
      return "ThroughputDrop";
    case HealthEventType::kThroughputRecovered:
      return "ThroughputRecovered";
    case HealthEventType::kIterationRewind:
      return "IterationRewind";
  }
  return "TrainingStalled";
}

std::optional<HealthEventType> healthEventTypeNamed(std::string_view name) {
  for (const HealthEventType type : kHealthEventTypes) {
    if (nameOf(type) == name) return type;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<bool>> insertHealthEvents(Database& database,
                                                     std::span<const HealthEvent> events) {
  static constexpr InsertColumn kColumns[] = {
      {"workload_uid", nullptr}, {"type", nullptr},
      {"run_serial", "INTEGER"}, {"created_at", "TIMESTAMPTZ"},
      {"pod_uid", nullptr},      {"occurrence", "BIGINT"},
      {"detail", "JSONB"}};
  const Driver driver = database.dialect().driver;
  // One row per statement: its affected rows tell whether this call inserted it.
  const std::string query = guardedInsert(
      driver, "workload_event", kColumns,
      "t.workload_uid = v.workload_uid AND t.run_serial = v.run_serial AND t.type = v.type AND "
      "t.occurrence = v.occurrence",
      1);
  std::vector<bool> inserted(events.size(), false);
  if (events.empty()) return inserted;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    // All or none: after a failure (a deadlock victim on InnoDB, say) nothing was written, so
    // the next call reports each event exactly as this one would have.
    soci::transaction transaction(sql);
    for (size_t i = 0; i < events.size(); ++i) {
      const HealthEvent& event = events[i];
      inserted[i] = execute(sql, query, [&](Binder& binder) {
                      binder.text(event.workload_uid);
                      binder.ownText(std::string(nameOf(event.type)));
                      binder.integer(event.run_serial);
                      binder.ownText(formatTimestamp(driver, event.time_us));
                      binder.text(event.pod_uid);
                      binder.integer(event.occurrence);
                      binder.text(event.detail_json);
                    }) > 0;
    }
    transaction.commit();
  }));
  return inserted;
}

absl::StatusOr<std::vector<HealthEvent>> readHealthEvents(Database& database,
                                                          std::string_view workload_uid,
                                                          std::optional<int> run_serial) {
  const Driver driver = database.dialect().driver;
  std::string types;
  for (const HealthEventType type : kHealthEventTypes) {
    types += common::concat(types.empty() ? "'" : ", '", nameOf(type), "'");
  }
  std::vector<HealthEvent> events;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    soci::statement statement(sql);
    Binder binder(statement);
    size_t next = 0;
    const std::string workload(workload_uid);
    std::string text = common::concat(
        "SELECT run_serial, type, occurrence, ", epochMicros(driver, "created_at"),
        ", pod_uid, detail FROM workload_event WHERE workload_uid = ", placeholder(driver, next),
        " AND type IN (", types, ") AND occurrence IS NOT NULL");
    binder.text(workload);
    if (run_serial) {
      text += common::concat(" AND run_serial = ", placeholder(driver, next));
      binder.integer(*run_serial);
    }
    text += " ORDER BY created_at, id";
    long long serial = 0, occurrence = 0, time_us = 0;
    std::string type, pod, detail;
    soci::indicator serial_null = soci::i_ok, time_null = soci::i_ok, pod_null = soci::i_ok,
                    detail_null = soci::i_ok;
    statement.exchange(soci::into(serial, serial_null));
    statement.exchange(soci::into(type));
    statement.exchange(soci::into(occurrence));
    statement.exchange(soci::into(time_us, time_null));
    statement.exchange(soci::into(pod, pod_null));
    statement.exchange(soci::into(detail, detail_null));
    prepare(statement, text);
    statement.execute(false);
    while (statement.fetch()) {
      const std::optional<HealthEventType> known = healthEventTypeNamed(type);
      if (!known) continue;
      events.push_back({.workload_uid = workload,
                        .run_serial = serial_null == soci::i_ok ? static_cast<int>(serial) : 0,
                        .type = *known,
                        .occurrence = occurrence,
                        .time_us = time_null == soci::i_ok ? time_us : 0,
                        .pod_uid = pod_null == soci::i_ok ? pod : "",
                        .detail_json = detail_null == soci::i_ok ? detail : "{}"});
    }
  }));
  return events;
}

absl::StatusOr<std::vector<HealthRun>> listHealthRuns(Database& database, int64_t changed_since_us,
                                                      size_t limit) {
  const Driver driver = database.dialect().driver;
  std::vector<HealthRun> runs;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    soci::statement statement(sql);
    Binder binder(statement);
    size_t next = 0;
    // Runs that ended or were superseded before the time asked are left out before their times
    // are computed: a Lens database holds every run ever.
    const std::string changed_before = placeholder(driver, next, "TIMESTAMPTZ");
    binder.ownText(formatTimestamp(driver, changed_since_us));
    const std::string recent = common::concat(
        "NOT EXISTS (SELECT 1 FROM workload_event o WHERE o.workload_uid = e.workload_uid AND "
        "((o.type "
        "= '",
        kEndTrainEventType, "' AND o.run_serial = e.run_serial) OR (o.type = '",
        kStartTrainEventType, "' AND o.run_serial > e.run_serial)) AND o.created_at < ",
        changed_before, ")");
    std::string text = common::concat(
        "SELECT runs.workload_uid, runs.run_serial, runs.nearest_workload_uid, "
        "runs.workload_name, runs.namespace_name, runs.started_us, runs.ended_us, "
        "runs.superseded_us, runs.gone_us FROM ",
        runTimesTable(driver, recent),
        " WHERE (runs.ended_us IS NULL AND runs.superseded_us IS NULL AND (runs.gone_us IS NULL OR "
        "runs.gone_us >= ",
        placeholder(driver, next), "))");
    binder.integer(changed_since_us);
    // A run of a workload that went long ago (a Lens database keeps them) is left out.
    for (const char* time : {"runs.ended_us", "runs.superseded_us"}) {
      text += common::concat(" OR ", time, " >= ", placeholder(driver, next));
      binder.integer(changed_since_us);
    }
    text += common::concat(" ORDER BY runs.workload_uid, runs.run_serial LIMIT ", limit + 1);
    std::string workload_uid, nearest, name, namespace_name;
    long long serial = 0, started_us = 0, ended_us = 0, superseded_us = 0, gone_us = 0;
    soci::indicator nearest_null = soci::i_ok, name_null = soci::i_ok, namespace_null = soci::i_ok,
                    started_null = soci::i_ok, ended_null = soci::i_ok,
                    superseded_null = soci::i_ok, gone_null = soci::i_ok;
    statement.exchange(soci::into(workload_uid));
    statement.exchange(soci::into(serial));
    statement.exchange(soci::into(nearest, nearest_null));
    statement.exchange(soci::into(name, name_null));
    statement.exchange(soci::into(namespace_name, namespace_null));
    statement.exchange(soci::into(started_us, started_null));
    statement.exchange(soci::into(ended_us, ended_null));
    statement.exchange(soci::into(superseded_us, superseded_null));
    statement.exchange(soci::into(gone_us, gone_null));
    prepare(statement, text);
    statement.execute(false);
    const auto optional = [](long long value, soci::indicator indicator) {
      return indicator == soci::i_ok ? std::optional<int64_t>(value) : std::nullopt;
    };
    const auto text_or_empty = [](const std::string& value, soci::indicator indicator) {
      return indicator == soci::i_ok ? value : std::string();
    };
    while (statement.fetch()) {
      runs.push_back({.key = {.workload_uid = workload_uid, .serial = static_cast<int>(serial)},
                      .nearest_workload_uid = text_or_empty(nearest, nearest_null),
                      .workload_name = text_or_empty(name, name_null),
                      .namespace_name = text_or_empty(namespace_name, namespace_null),
                      .started_us = optional(started_us, started_null).value_or(0),
                      .ended_us = optional(ended_us, ended_null),
                      .superseded_us = optional(superseded_us, superseded_null),
                      .gone_us = optional(gone_us, gone_null)});
    }
  }));
  return runs;
}

absl::StatusOr<std::vector<RunPhase>> listRunPhases(Database& database,
                                                    std::string_view workload_uid) {
  const Driver driver = database.dialect().driver;
  std::vector<RunPhase> phases;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    soci::statement statement(sql);
    Binder binder(statement);
    size_t next = 0;
    const std::string condition = common::concat("e.workload_uid = ", placeholder(driver, next));
    binder.ownText(std::string(workload_uid));
    const std::string text =
        common::concat("SELECT runs.run_serial, runs.started_us, ", runStateExpression(), ", ",
                       stateSinceExpression(), " FROM ", runTimesTable(driver, condition),
                       " ORDER BY runs.run_serial");
    long long serial = 0, started_us = 0, state = 0, since_us = 0;
    soci::indicator started_null = soci::i_ok, since_null = soci::i_ok;
    statement.exchange(soci::into(serial));
    statement.exchange(soci::into(started_us, started_null));
    statement.exchange(soci::into(state));
    statement.exchange(soci::into(since_us, since_null));
    prepare(statement, text);
    statement.execute(false);
    while (statement.fetch()) {
      phases.push_back({.serial = static_cast<int>(serial),
                        .started_us = started_null == soci::i_ok ? started_us : 0,
                        .state = static_cast<RunState>(state),
                        .since_us = since_null == soci::i_ok ? since_us : 0});
    }
  }));
  return phases;
}

absl::StatusOr<std::vector<ProgressRow>> readNewestRows(Database& database, const RunKey& run,
                                                        size_t limit) {
  const Driver driver = database.dialect().driver;
  std::vector<ProgressRow> rows;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    soci::statement statement(sql);
    Binder binder(statement);
    size_t next = 0;
    const std::string text =
        common::concat("SELECT iteration, ", epochMicros(driver, "created_at"),
                       ", pod_uuid, performance FROM training_performance WHERE ",
                       runCondition(driver, run, binder, next),
                       " AND iteration IS NOT NULL ORDER BY iteration DESC LIMIT ", limit);
    long long iteration = 0, time_us = 0;
    std::string pod, performance;
    soci::indicator time_null = soci::i_ok, pod_null = soci::i_ok, performance_null = soci::i_ok;
    statement.exchange(soci::into(iteration));
    statement.exchange(soci::into(time_us, time_null));
    statement.exchange(soci::into(pod, pod_null));
    statement.exchange(soci::into(performance, performance_null));
    prepare(statement, text);
    statement.execute(false);
    while (statement.fetch()) {
      rows.push_back({.iteration = iteration,
                      .time_us = time_null == soci::i_ok ? time_us : 0,
                      .pod_uid = pod_null == soci::i_ok ? pod : "",
                      .performance_json = performance_null == soci::i_ok ? performance : "{}"});
    }
  }));
  std::reverse(rows.begin(), rows.end());
  return rows;
}

absl::StatusOr<std::optional<int64_t>> lastIteration(Database& database, const RunKey& run) {
  return readRunValue(database, run, "MAX(iteration)", "training_performance", "");
}

absl::StatusOr<int64_t> countIterations(Database& database, const RunKey& run) {
  auto count = readRunValue(database, run, "COUNT(iteration)", "training_performance", "");
  if (!count.ok()) return count.status();
  return count->value_or(0);
}

absl::StatusOr<RunExtent> runExtent(Database& database, const RunKey& run) {
  auto rows = readRunValue(database, run, "COUNT(*)", "training_performance", "");
  if (!rows.ok()) return rows.status();
  auto first = readRunValue(database, run, "MIN(iteration)", "training_performance", "");
  if (!first.ok()) return first.status();
  auto last = lastIteration(database, run);
  if (!last.ok()) return last.status();
  return RunExtent{.rows = rows->value_or(0), .first_iteration = *first, .last_iteration = *last};
}

absl::StatusOr<CheckpointActivity> checkpointActivity(Database& database, const RunKey& run) {
  const Driver driver = database.dialect().driver;
  auto in_progress = readRunValue(database, run, epochMicros(driver, "MAX(start_time)"),
                                  "checkpoint_event", " AND status = 'in_progress'");
  if (!in_progress.ok()) return in_progress.status();
  auto ended = readRunValue(database, run, epochMicros(driver, "MAX(end_time)"), "checkpoint_event",
                            " AND status = 'success'");
  if (!ended.ok()) return ended.status();
  return CheckpointActivity{.in_progress_since_us = *in_progress, .last_end_us = *ended};
}

absl::StatusOr<std::vector<CompletedSave>> readCompletedSaves(Database& database,
                                                              std::string_view workload_uid) {
  const Driver driver = database.dialect().driver;
  std::vector<CompletedSave> saves;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    const std::string workload(workload_uid);
    long long serial = 0, iteration = 0, end_us = 0, duration_ms = 0;
    soci::indicator serial_null = soci::i_ok, iteration_null = soci::i_ok;
    soci::statement statement =
        (sql.prepare << common::concat(
             "SELECT serial, iteration, ", epochMicros(driver, "end_time"),
             ", duration_ms FROM checkpoint_event WHERE workload_uid = :w AND event_type = "
             "'end_saving' AND status = 'success' AND end_time IS NOT NULL AND duration_ms IS "
             "NOT NULL ORDER BY end_time, id"),
         soci::into(serial, serial_null), soci::into(iteration, iteration_null), soci::into(end_us),
         soci::into(duration_ms), soci::use(workload));
    statement.execute(false);
    while (statement.fetch()) {
      saves.push_back({.serial = serial_null == soci::i_ok ? static_cast<int>(serial) : 0,
                       .iteration = iteration_null == soci::i_ok ? iteration : 0,
                       .end_us = end_us,
                       .duration_ms = duration_ms});
    }
  }));
  return saves;
}

absl::StatusOr<bool> holdLease(Database& database, std::string_view name, std::string_view holder,
                               int64_t now_us, int64_t ttl_us) {
  static constexpr InsertColumn kColumns[] = {
      {"name", nullptr}, {"holder", nullptr}, {"expires_us", "BIGINT"}};
  const Driver driver = database.dialect().driver;
  const std::string lease(name);
  const std::string claimant(holder);
  // The lease row, free, for the update below to take.
  const std::string create = guardedInsert(driver, "tp_leases", kColumns, "t.name = v.name", 1);
  bool held = false;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    execute(sql, create, [&](Binder& binder) {
      binder.text(lease);
      binder.ownText("");
      binder.integer(0);
    });
    // One statement decides, so two claimants cannot both take it: the second sees the first's
    // row. Rows are counted as matched on every backend (SOCI's MySQL backend connects with
    // CLIENT_FOUND_ROWS), so a renewal that changes nothing still holds.
    const long long expires_us = now_us + ttl_us;
    const long long now = now_us;
    soci::statement update =
        (sql.prepare << "UPDATE tp_leases SET holder = :h, expires_us = :e WHERE name = :n AND "
                        "(holder = :c OR expires_us < :now)",
         soci::use(claimant), soci::use(expires_us), soci::use(lease), soci::use(claimant),
         soci::use(now));
    update.execute(true);
    held = update.get_affected_rows() > 0;
  }));
  return held;
}

}  // namespace tp::storage
