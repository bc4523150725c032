#include "storage/training_queries.h"

#include <simdjson.h>
#include <soci/soci.h>

#include <cmath>

#include "common/status.h"
#include "common/strings.h"
#include "storage/run_times.h"
#include "storage/statement.h"
#include "storage/training_rows.h"

namespace tp::storage {
namespace {

// The page's runs, without their details; `limit` + 1 of them tells whether more follow.
std::vector<RunSummary> readRunKeys(soci::session& sql, Driver driver, const RunQuery& query) {
  size_t next = 0;
  soci::statement statement(sql);
  Binder binder(statement);
  std::string condition;
  if (query.workload_uid) {
    condition = common::concat("e.workload_uid = ", placeholder(driver, next));
    binder.text(*query.workload_uid);
  }
  if (query.after) {
    const std::string workload = placeholder(driver, next);
    const std::string same_workload = placeholder(driver, next);
    const std::string serial = placeholder(driver, next);
    condition += common::concat(condition.empty() ? "" : " AND ", "(e.workload_uid > ", workload,
                                " OR (e.workload_uid = ", same_workload, " AND e.run_serial > ",
                                serial, "))");
    binder.text(query.after->workload_uid);
    binder.text(query.after->workload_uid);
    binder.integer(query.after->serial);
  }
  const std::string state = runStateExpression();
  std::string text = common::concat(
      "SELECT runs.workload_uid, runs.run_serial, runs.nearest_workload_uid, runs.started_us, "
      "runs.workload_name, ",
      state, ", ", stateSinceExpression(), " FROM ", runTimesTable(driver, condition));
  // The state and the name are filtered here, before the limit, so that pages hold `limit` runs
  // of them.
  std::vector<std::string> filters;
  if (query.state) filters.push_back(common::concat(state, " = ", static_cast<int>(*query.state)));
  if (query.name_contains) {
    // '!' escapes LIKE's wildcards the same way on every backend (a backslash would not).
    std::string pattern = "%";
    for (const char c : *query.name_contains) {
      if (c == '%' || c == '_' || c == '!') pattern += '!';
      pattern += c;
    }
    pattern += '%';
    filters.push_back(common::concat("LOWER(runs.workload_name) LIKE LOWER(",
                                     placeholder(driver, next), ") ESCAPE '!'"));
    binder.ownText(std::move(pattern));
  }
  for (size_t i = 0; i < filters.size(); ++i) {
    text += common::concat(i == 0 ? " WHERE " : " AND ", filters[i]);
  }
  text += common::concat(" ORDER BY runs.workload_uid, runs.run_serial LIMIT ", query.limit + 1);

  std::string workload_uid, nearest, name;
  long long serial = 0, started_us = 0, state_value = 0, since_us = 0;
  soci::indicator nearest_null = soci::i_ok, started_null = soci::i_ok, name_null = soci::i_ok,
                  since_null = soci::i_ok;
  statement.exchange(soci::into(workload_uid));
  statement.exchange(soci::into(serial));
  statement.exchange(soci::into(nearest, nearest_null));
  statement.exchange(soci::into(started_us, started_null));
  statement.exchange(soci::into(name, name_null));
  statement.exchange(soci::into(state_value));
  statement.exchange(soci::into(since_us, since_null));
  prepare(statement, text);
  statement.execute(false);
  std::vector<RunSummary> runs;
  while (statement.fetch()) {
    RunSummary& run = runs.emplace_back();
    run.workload_uid = workload_uid;
    run.serial = static_cast<int>(serial);
    if (nearest_null == soci::i_ok) run.nearest_workload_uid = nearest;
    if (started_null == soci::i_ok) run.started_us = started_us;
    if (name_null == soci::i_ok) run.workload_name = name;
    run.state = static_cast<RunState>(state_value);
    if (since_null == soci::i_ok) run.since_us = since_us;
  }
  return runs;
}

std::optional<int64_t> targetIteration(const std::string& performance_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element target;
  if (parser.parse(performance_json)["target_iteration"].get(target) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  if (int64_t value = 0; target.get_int64().get(value) == simdjson::SUCCESS) return value;
  double value = 0;
  if (target.get_double().get(value) != simdjson::SUCCESS || !std::isfinite(value)) {
    return std::nullopt;
  }
  return std::llround(value);
}

// Fills in each run's details with statements prepared once and run per run; each is an
// indexed lookup of one run's newest rows.
void readDetails(soci::session& sql, Driver driver, std::vector<RunSummary>& runs) {
  std::string workload_uid;
  long long serial = 0;

  size_t next = 0;
  std::string key = common::concat("workload_uid = ", placeholder(driver, next),
                                   " AND serial = ", placeholder(driver, next));
  long long iteration = 0, time_us = 0;
  std::string performance;
  soci::indicator time_null = soci::i_ok, performance_null = soci::i_ok;
  soci::statement last =
      (sql.prepare << common::concat("SELECT iteration, ", epochMicros(driver, "created_at"),
                                     ", performance FROM training_performance WHERE ", key,
                                     " AND iteration IS NOT NULL ORDER BY iteration DESC LIMIT 1"),
       soci::into(iteration), soci::into(time_us, time_null),
       soci::into(performance, performance_null), soci::use(workload_uid), soci::use(serial));

  long long saves = 0;
  soci::statement saved =
      (sql.prepare << common::concat("SELECT count(*) FROM checkpoint_event WHERE ", key,
                                     " AND event_type = 'end_saving' AND status = 'success'"),
       soci::into(saves), soci::use(workload_uid), soci::use(serial));
  long long saved_iteration = 0, saved_duration = 0;
  soci::indicator duration_null = soci::i_ok;
  soci::statement last_save =
      (sql.prepare << common::concat("SELECT iteration, duration_ms FROM checkpoint_event WHERE ",
                                     key,
                                     " AND event_type = 'end_saving' AND status = 'success' "
                                     "ORDER BY iteration DESC LIMIT 1"),
       soci::into(saved_iteration), soci::into(saved_duration, duration_null),
       soci::use(workload_uid), soci::use(serial));

  next = 0;
  std::string pods_query = common::concat(
      "SELECT pod FROM (SELECT pod_uid AS pod FROM workload_event WHERE workload_uid = ",
      placeholder(driver, next), " AND run_serial = ", placeholder(driver, next));
  pods_query += common::concat(" UNION SELECT pod_uuid FROM checkpoint_event WHERE ",
                               "workload_uid = ", placeholder(driver, next),
                               " AND serial = ", placeholder(driver, next));
  pods_query += common::concat(
      " UNION SELECT pod_uuid FROM (SELECT pod_uuid FROM training_performance WHERE ",
      "workload_uid = ", placeholder(driver, next), " AND serial = ", placeholder(driver, next),
      " ORDER BY iteration DESC LIMIT ", kRunPodRows, ") newest) pods WHERE pod IS NOT NULL AND ",
      "pod <> '' ORDER BY pod LIMIT ", kMaxRunPods);
  std::string pod;
  soci::statement pods =
      (sql.prepare << pods_query, soci::into(pod), soci::use(workload_uid), soci::use(serial),
       soci::use(workload_uid), soci::use(serial), soci::use(workload_uid), soci::use(serial));

  for (RunSummary& run : runs) {
    workload_uid = run.workload_uid;
    serial = run.serial;
    if (last.execute(true)) {
      run.last_iteration = iteration;
      if (time_null == soci::i_ok) run.last_iteration_us = time_us;
      if (performance_null == soci::i_ok) run.target_iterations = targetIteration(performance);
    }
    saved.execute(true);
    run.checkpoints.count = saves;
    if (last_save.execute(true)) {
      run.checkpoints.last_iteration = saved_iteration;
      if (duration_null == soci::i_ok) run.checkpoints.last_duration_ms = saved_duration;
    }
    pods.execute(false);
    while (pods.fetch()) run.pods.push_back(pod);
  }
}

}  // namespace

std::string_view nameOf(RunState state) {
  switch (state) {
    case RunState::kRunning:
      return "running";
    case RunState::kStalled:
      return "stalled";
    case RunState::kEnded:
      return "ended";
    case RunState::kSuperseded:
      return "superseded";
    case RunState::kGone:
      return "gone";
  }
  return "running";
}

std::optional<RunState> runStateNamed(std::string_view name) {
  for (const RunState state : kRunStates) {
    if (nameOf(state) == name) return state;
  }
  return std::nullopt;
}

absl::StatusOr<RunPage> listRuns(Database& database, const RunQuery& query) {
  RunPage page;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    const Driver driver = database.dialect().driver;
    page.runs = readRunKeys(sql, driver, query);
    page.more = page.runs.size() > query.limit;
    if (page.more) page.runs.resize(query.limit);
    readDetails(sql, driver, page.runs);
  }));
  return page;
}

absl::Status readPerformance(Database& database, const PerformanceQuery& query,
                             const std::function<bool(const PerformanceRecord&)>& on_row) {
  const Driver driver = database.dialect().driver;
  std::optional<std::pair<int, int64_t>> after = query.after;
  while (true) {
    size_t rows = 0;
    bool stopped = false;
    TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
      size_t next = 0;
      soci::statement statement(sql);
      Binder binder(statement);
      std::string text =
          common::concat("SELECT serial, iteration, ", epochMicros(driver, "created_at"),
                         ", performance FROM training_performance WHERE workload_uid = ",
                         placeholder(driver, next));
      binder.text(query.workload_uid);
      // Rows without either could not be paged past.
      text += " AND serial IS NOT NULL AND iteration IS NOT NULL";
      if (query.serial) {
        text += common::concat(" AND serial = ", placeholder(driver, next));
        binder.integer(*query.serial);
      }
      if (query.from_us) {
        text += common::concat(" AND created_at >= ", placeholder(driver, next, "TIMESTAMPTZ"));
        binder.ownText(formatTimestamp(driver, *query.from_us));
      }
      if (query.to_us) {
        text += common::concat(" AND created_at <= ", placeholder(driver, next, "TIMESTAMPTZ"));
        binder.ownText(formatTimestamp(driver, *query.to_us));
      }
      if (after && query.serial) {
        // One run: a range of its (workload, serial, iteration) index, where the general form's
        // OR makes every page scan the workload's rows from the start.
        text += common::concat(" AND iteration > ", placeholder(driver, next));
        binder.integer(after->second);
      } else if (after) {
        const std::string serial = placeholder(driver, next);
        const std::string same_serial = placeholder(driver, next);
        const std::string iteration = placeholder(driver, next);
        text += common::concat(" AND (serial > ", serial, " OR (serial = ", same_serial,
                               " AND iteration > ", iteration, "))");
        binder.integer(after->first);
        binder.integer(after->first);
        binder.integer(after->second);
      }
      text += common::concat(" ORDER BY serial, iteration LIMIT ", kPerformancePageRows);
      long long serial = 0, iteration = 0, time_us = 0;
      std::string performance;
      soci::indicator time_null = soci::i_ok, performance_null = soci::i_ok;
      statement.exchange(soci::into(serial));
      statement.exchange(soci::into(iteration));
      statement.exchange(soci::into(time_us, time_null));
      statement.exchange(soci::into(performance, performance_null));
      prepare(statement, text);
      statement.execute(false);
      while (!stopped && statement.fetch()) {
        ++rows;
        const PerformanceRecord record{.serial = static_cast<int>(serial),
                                       .iteration = iteration,
                                       .time_us = time_null == soci::i_ok ? time_us : 0,
                                       .performance_json = performance_null == soci::i_ok
                                                               ? std::string_view(performance)
                                                               : "{}"};
        after.emplace(record.serial, record.iteration);
        stopped = !on_row(record);
      }
    }));
    if (stopped || rows < kPerformancePageRows) return absl::OkStatus();
  }
}

}  // namespace tp::storage
