#include "storage/training_rows.h"

#include <soci/soci.h>

#include <ctime>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <tuple>

#include "common/status.h"
#include "common/strings.h"
#include "storage/guarded_insert.h"
#include "storage/statement.h"

namespace tp::storage {
namespace {

// SQLite allows at most 500 terms in one compound SELECT.
constexpr size_t kMaxRowsPerStatement = 500;
// Keys per "(k1) OR (k2) ..." condition: SQLite parses such a chain to a tree as deep as it is
// long, and refuses a depth of 1000.
constexpr size_t kMaxKeysPerStatement = 100;

// Binds the values `bind` adds for each row and runs guarded inserts of at most
// kMaxRowsPerStatement rows; returns the rows inserted.
template <typename Row, typename Bind>
absl::StatusOr<size_t> insertRows(Database& database, std::string_view table,
                                  std::span<const InsertColumn> columns,
                                  std::string_view key_condition, std::span<const Row> rows,
                                  Bind bind) {
  size_t inserted = 0;
  const Driver driver = database.dialect().driver;
  for (size_t first = 0; first < rows.size(); first += kMaxRowsPerStatement) {
    const std::span<const Row> chunk =
        rows.subspan(first, std::min(kMaxRowsPerStatement, rows.size() - first));
    const std::string query = guardedInsert(driver, table, columns, key_condition, chunk.size());
    TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
      const long long affected = execute(sql, query, [&](Binder& binder) {
        for (const Row& row : chunk) bind(row, binder);
      });
      inserted += affected > 0 ? static_cast<size_t>(affected) : 0;
    }));
  }
  return inserted;
}

absl::StatusOr<size_t> insertRunEvents(Database& database, std::span<const RunEvent> events,
                                       std::string_view type) {
  static constexpr InsertColumn kColumns[] = {
      {"workload_uid", nullptr},     {"type", nullptr},    {"run_serial", "INTEGER"},
      {"created_at", "TIMESTAMPTZ"}, {"pod_uid", nullptr}, {"nearest_workload_uid", nullptr}};
  const Driver driver = database.dialect().driver;
  const std::string type_text(type);
  return insertRows(
      database, "workload_event", kColumns,
      "t.workload_uid = v.workload_uid AND t.nearest_workload_uid = v.nearest_workload_uid AND "
      "t.type = v.type",
      events, [&](const RunEvent& event, Binder& binder) {
        binder.text(event.workload_uid);
        binder.text(type_text);
        binder.integer(event.run_serial);
        binder.ownText(formatTimestamp(driver, event.time_us));
        binder.text(event.pod_uid);
        binder.text(event.nearest_workload_uid);
      });
}

// --- checkpoint_event -------------------------------------------------------------------------

constexpr std::string_view kStartSaving = "start_saving";
constexpr std::string_view kEndSaving = "end_saving";
constexpr std::string_view kLoading = "loading";
constexpr std::string_view kInProgress = "in_progress";
constexpr std::string_view kSuccess = "success";
// What the row came from; Lens put the pattern's extra groups here.
constexpr std::string_view kCheckpointMetadata = R"({"source":"log"})";

// checkpoint_event's key without event_type: one save or load of a run.
using OperationKey = std::tuple<std::string, int, int64_t>;

OperationKey keyOf(const CheckpointLine& line) {
  return {line.workload_uid, line.serial, line.iteration};
}

// The lines of `operation` (starts or ends), one per operation: many ranks print the same line,
// and two rows of one key in one statement would both pass its NOT EXISTS guard.
std::vector<const CheckpointLine*> operations(std::span<const CheckpointLine> lines,
                                              CheckpointOperation operation) {
  std::vector<const CheckpointLine*> unique;
  std::set<OperationKey> seen;
  for (const CheckpointLine& line : lines) {
    if (line.operation == operation && seen.insert(keyOf(line)).second) unique.push_back(&line);
  }
  return unique;
}

// A row about to be written: its line and the values decided for it.
struct CheckpointRow {
  const CheckpointLine* line;
  std::string_view event_type;
  std::string_view status;
  std::optional<int64_t> start_us;
  std::optional<int64_t> end_us;
  std::optional<int64_t> duration_ms;
};

// Inserts the rows unless a row of their key with one of `blocking` event types exists.
absl::StatusOr<size_t> insertCheckpointRows(Database& database, std::span<const CheckpointRow> rows,
                                            std::string_view blocking) {
  static constexpr InsertColumn kColumns[] = {
      {"workload_uid", nullptr},    {"pod_uuid", nullptr},       {"iteration", "BIGINT"},
      {"checkpoint_path", nullptr}, {"event_type", nullptr},     {"start_time", "TIMESTAMP"},
      {"end_time", "TIMESTAMP"},    {"duration_ms", "BIGINT"},   {"is_fast_ckpt", "BOOLEAN"},
      {"metadata", "JSONB"},        {"created_at", "TIMESTAMP"}, {"serial", "INTEGER"},
      {"status", nullptr}};
  const Driver driver = database.dialect().driver;
  const std::string metadata(kCheckpointMetadata);
  const auto time = [driver](std::optional<int64_t> time_us) -> std::optional<std::string> {
    if (!time_us) return std::nullopt;
    return formatTimestamp(driver, *time_us);
  };
  return insertRows(
      database, "checkpoint_event", kColumns,
      common::concat("t.workload_uid = v.workload_uid AND t.serial = v.serial AND t.iteration = "
                     "v.iteration AND t.event_type IN (",
                     blocking, ")"),
      rows, [&](const CheckpointRow& row, Binder& binder) {
        binder.text(row.line->workload_uid);
        binder.text(row.line->pod_uid);
        binder.integer(row.line->iteration);
        binder.text(row.line->path);
        binder.ownText(std::string(row.event_type));
        binder.optionalText(time(row.start_us));
        binder.optionalText(time(row.end_us));
        binder.optionalInteger(row.duration_ms);
        binder.integer(0);  // is_fast_ckpt: no format tells yet
        binder.text(metadata);
        binder.ownText(formatTimestamp(driver, row.line->time_us));
        binder.integer(row.line->serial);
        binder.ownText(std::string(row.status));
      });
}

// "(workload_uid = ? AND serial = ? AND iteration = ?) OR ..." for `count` keys.
std::string keysCondition(Driver driver, size_t count, size_t& next) {
  std::string condition;
  for (size_t i = 0; i < count; ++i) {
    condition += i == 0 ? "(workload_uid = " : " OR (workload_uid = ";
    condition += placeholder(driver, next);
    condition += " AND serial = ";
    condition += placeholder(driver, next);
    condition += " AND iteration = ";
    condition += placeholder(driver, next);
    condition += ")";
  }
  return condition;
}

void bindKeys(std::span<const CheckpointLine* const> lines, Binder& binder) {
  for (const CheckpointLine* line : lines) {
    binder.text(line->workload_uid);
    binder.integer(line->serial);
    binder.integer(line->iteration);
  }
}

// What a stored operation row says.
struct StoredOperation {
  std::optional<int64_t> start_us;
  std::optional<int64_t> duration_ms;
  std::string status;
};

// The `event_type` rows of the lines' keys.
absl::StatusOr<std::map<OperationKey, StoredOperation>> readOperations(
    Database& database, std::span<const CheckpointLine* const> lines, std::string_view event_type) {
  std::map<OperationKey, StoredOperation> stored;
  const Driver driver = database.dialect().driver;
  for (size_t first = 0; first < lines.size(); first += kMaxKeysPerStatement) {
    const auto chunk = lines.subspan(first, std::min(kMaxKeysPerStatement, lines.size() - first));
    size_t next = 0;
    const std::string query = common::concat(
        "SELECT workload_uid, serial, iteration, ", epochMicros(driver, "start_time"),
        ", duration_ms, status FROM checkpoint_event WHERE event_type = '", event_type, "' AND (",
        keysCondition(driver, chunk.size(), next), ")");
    TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
      std::string workload_uid, status;
      long long serial = 0, iteration = 0, start_us = 0, duration_ms = 0;
      soci::indicator start_null = soci::i_ok, duration_null = soci::i_ok, status_null = soci::i_ok;
      soci::statement statement(sql);
      statement.exchange(soci::into(workload_uid));
      statement.exchange(soci::into(serial));
      statement.exchange(soci::into(iteration));
      statement.exchange(soci::into(start_us, start_null));
      statement.exchange(soci::into(duration_ms, duration_null));
      statement.exchange(soci::into(status, status_null));
      Binder binder(statement);
      bindKeys(chunk, binder);
      prepare(statement, query);
      statement.execute(false);
      while (statement.fetch()) {
        StoredOperation& operation =
            stored[{workload_uid, static_cast<int>(serial), static_cast<int64_t>(iteration)}];
        operation.start_us =
            start_null == soci::i_ok ? std::optional<int64_t>(start_us) : std::nullopt;
        operation.duration_ms =
            duration_null == soci::i_ok ? std::optional<int64_t>(duration_ms) : std::nullopt;
        operation.status = status_null == soci::i_ok ? status : std::string();
      }
    }));
  }
  return stored;
}

// Deletes the `event_type` rows of the lines' keys.
absl::Status deleteOperations(Database& database, std::span<const CheckpointLine* const> lines,
                              std::string_view event_type) {
  const Driver driver = database.dialect().driver;
  for (size_t first = 0; first < lines.size(); first += kMaxKeysPerStatement) {
    const auto chunk = lines.subspan(first, std::min(kMaxKeysPerStatement, lines.size() - first));
    size_t next = 0;
    const std::string query =
        common::concat("DELETE FROM checkpoint_event WHERE event_type = '", event_type, "' AND (",
                       keysCondition(driver, chunk.size(), next), ")");
    TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
      execute(sql, query, [&](Binder& binder) { bindKeys(chunk, binder); });
    }));
  }
  return absl::OkStatus();
}

// "UPDATE checkpoint_event SET <set> WHERE <the line's key> AND event_type = ... AND <guard>":
// `set` holds the first `next` placeholders, bound by `bind`.
absl::Status updateOperation(Database& database, const CheckpointLine& line,
                             std::string_view event_type, std::string_view guard,
                             std::string_view set, size_t next,
                             const std::function<void(Binder&)>& bind) {
  const std::string query = common::concat("UPDATE checkpoint_event SET ", set, " WHERE ",
                                           keysCondition(database.dialect().driver, 1, next),
                                           " AND event_type = '", event_type, "' AND ", guard);
  return database.run([&](soci::session& sql) {
    execute(sql, query, [&](Binder& binder) {
      bind(binder);
      const CheckpointLine* const key[] = {&line};
      bindKeys(key, binder);
    });
  });
}

// "column = ?" for each column, with the PostgreSQL casts given.
std::string assignments(Driver driver, std::initializer_list<InsertColumn> columns, size_t& next) {
  std::string set;
  for (const InsertColumn& column : columns) {
    set += set.empty() ? "" : ", ";
    set += column.name;
    set += " = ";
    set += placeholder(driver, next, column.postgres_cast);
  }
  return set;
}

// An end logged before its start (ranks' clocks differ) gives no duration rather than a
// negative one.
std::optional<int64_t> elapsedMs(int64_t end_us, std::optional<int64_t> start_us) {
  if (!start_us || end_us < *start_us) return std::nullopt;
  return (end_us - *start_us) / 1000;
}

// Sets, for each end of `operation`, the duration its operation has in the database.
void takeDurations(std::span<const CheckpointLine> ends, CheckpointOperation operation,
                   const std::map<OperationKey, StoredOperation>& stored,
                   std::vector<std::optional<int64_t>>& durations) {
  for (size_t i = 0; i < ends.size(); ++i) {
    if (ends[i].operation != operation) continue;
    const auto it = stored.find(keyOf(ends[i]));
    if (it != stored.end()) durations[i] = it->second.duration_ms;
  }
}

// A save's end: the end_saving row, then the start_saving row removed.
absl::Status completeSaves(Database& database, std::span<const CheckpointLine* const> ends) {
  auto starts = readOperations(database, ends, kStartSaving);
  if (!starts.ok()) return starts.status();
  std::vector<CheckpointRow> rows;
  std::vector<const CheckpointLine*> unknown;  // no duration: not printed, no start seen
  for (const CheckpointLine* end : ends) {
    const auto start = starts->find(keyOf(*end));
    const std::optional<int64_t> start_us =
        start != starts->end() ? start->second.start_us : std::nullopt;
    const std::optional<int64_t> duration_ms =
        end->duration_ms ? end->duration_ms : elapsedMs(end->time_us, start_us);
    if (!duration_ms) unknown.push_back(end);
    rows.push_back({.line = end,
                    .event_type = kEndSaving,
                    .status = kSuccess,
                    .start_us = start_us      ? start_us
                                : duration_ms ? std::optional(end->time_us - *duration_ms * 1000)
                                              : std::optional(end->time_us),
                    .end_us = end->time_us,
                    .duration_ms = duration_ms});
  }
  TP_RETURN_IF_ERROR(insertCheckpointRows(database, rows, "'end_saving'").status());
  // A start another writer recorded after the read above still dates the save.
  if (!unknown.empty()) {
    auto late = readOperations(database, unknown, kStartSaving);
    if (!late.ok()) return late.status();
    const Driver driver = database.dialect().driver;
    for (const CheckpointLine* end : unknown) {
      const auto start = late->find(keyOf(*end));
      if (start == late->end() || !start->second.start_us) continue;
      size_t next = 0;
      const std::string set =
          assignments(driver, {{"start_time", "TIMESTAMP"}, {"duration_ms", nullptr}}, next);
      TP_RETURN_IF_ERROR(updateOperation(
          database, *end, kEndSaving, "duration_ms IS NULL", set, next, [&](Binder& binder) {
            binder.ownText(formatTimestamp(driver, *start->second.start_us));
            binder.optionalInteger(elapsedMs(end->time_us, start->second.start_us));
          }));
    }
  }
  return deleteOperations(database, ends, kStartSaving);
}

// A load's end: a complete loading row where none exists, else its in_progress row completed.
absl::Status completeLoads(Database& database, std::span<const CheckpointLine* const> ends) {
  std::vector<CheckpointRow> rows;
  for (const CheckpointLine* end : ends) {
    const int64_t start_us = end->time_us - end->duration_ms.value_or(0) * 1000;
    rows.push_back({.line = end,
                    .event_type = kLoading,
                    .status = kSuccess,
                    .start_us = start_us,
                    .end_us = end->time_us,
                    .duration_ms = end->duration_ms});
  }
  TP_RETURN_IF_ERROR(insertCheckpointRows(database, rows, "'loading'").status());
  // Read after the insert: a start recorded by anyone before it is seen here.
  auto stored = readOperations(database, ends, kLoading);
  if (!stored.ok()) return stored.status();
  const Driver driver = database.dialect().driver;
  for (const CheckpointLine* end : ends) {
    const auto row = stored->find(keyOf(*end));
    if (row == stored->end() || row->second.status != kInProgress) continue;
    const std::optional<int64_t> duration_ms =
        end->duration_ms ? end->duration_ms : elapsedMs(end->time_us, row->second.start_us);
    size_t next = 0;
    const std::string set = common::concat(
        "status = 'success', ",
        assignments(driver, {{"end_time", "TIMESTAMP"}, {"duration_ms", nullptr}}, next));
    TP_RETURN_IF_ERROR(updateOperation(database, *end, kLoading, "status = 'in_progress'", set,
                                       next, [&](Binder& binder) {
                                         binder.ownText(formatTimestamp(driver, end->time_us));
                                         binder.optionalInteger(duration_ms);
                                       }));
  }
  return absl::OkStatus();
}

}  // namespace

std::string formatTimestamp(Driver driver, int64_t time_us) {
  const std::time_t seconds = static_cast<std::time_t>(time_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &utc);
  return common::concat(std::string_view(text, length), ".",
                        fmt::format("{:06d}", time_us % 1'000'000),
                        driver == Driver::kPostgres ? "+00" : "");
}

absl::StatusOr<std::optional<int64_t>> openOperationIteration(Database& database,
                                                              std::string_view workload_uid,
                                                              int serial,
                                                              CheckpointOperation operation,
                                                              int64_t time_us) {
  const Driver driver = database.dialect().driver;
  std::optional<int64_t> iteration;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    const std::string workload(workload_uid);
    const std::string type(operation == CheckpointOperation::kSave ? kStartSaving : kLoading);
    const std::string status(kInProgress);
    const std::string time = formatTimestamp(driver, time_us);
    long long found = 0;
    soci::indicator present = soci::i_null;
    sql << common::concat(
        "SELECT iteration FROM checkpoint_event WHERE workload_uid = :w AND "
        "serial = :s AND event_type = :e AND status = :p AND start_time <= ",
        driver == Driver::kPostgres ? "CAST(:t AS TIMESTAMP)" : ":t",
        " ORDER BY start_time DESC LIMIT 1"),
        soci::use(workload), soci::use(serial), soci::use(type), soci::use(status), soci::use(time),
        soci::into(found, present);
    if (present == soci::i_ok) iteration = found;
  }));
  return iteration;
}

absl::StatusOr<std::optional<int64_t>> lastIterationBefore(Database& database,
                                                           std::string_view workload_uid,
                                                           int serial, int64_t time_us) {
  const Driver driver = database.dialect().driver;
  std::optional<int64_t> iteration;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    const std::string workload(workload_uid);
    const std::string time = formatTimestamp(driver, time_us);
    long long highest = 0;
    soci::indicator present = soci::i_null;
    sql << common::concat(
        "SELECT MAX(iteration) FROM training_performance WHERE workload_uid = "
        ":w AND serial = :s AND created_at <= ",
        driver == Driver::kPostgres ? "CAST(:t AS TIMESTAMPTZ)" : ":t"),
        soci::use(workload), soci::use(serial), soci::use(time), soci::into(highest, present);
    if (present == soci::i_ok) iteration = highest;
  }));
  return iteration;
}

absl::StatusOr<std::vector<RunRecord>> loadRuns(Database& database, std::string_view workload_uid) {
  std::vector<RunRecord> runs;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    const std::string workload(workload_uid);
    const std::string type(kStartTrainEventType);
    soci::rowset<soci::row> rows = (sql.prepare << "SELECT nearest_workload_uid, run_serial "
                                                   "FROM workload_event WHERE workload_uid = :w "
                                                   "AND type = :t",
                                    soci::use(workload), soci::use(type));
    for (const soci::row& row : rows) {
      RunRecord run;
      if (row.get_indicator(0) == soci::i_ok) run.nearest_workload_uid = row.get<std::string>(0);
      if (row.get_indicator(1) == soci::i_ok) {
        run.run_serial = row.get_properties(1).get_data_type() == soci::dt_long_long
                             ? static_cast<int>(row.get<long long>(1))
                             : row.get<int>(1);
      }
      runs.push_back(std::move(run));
    }
  }));
  return runs;
}

absl::StatusOr<size_t> insertStartTrainEvents(Database& database,
                                              std::span<const RunEvent> events) {
  return insertRunEvents(database, events, kStartTrainEventType);
}

absl::StatusOr<size_t> insertEndTrainEvents(Database& database, std::span<const RunEvent> events) {
  return insertRunEvents(database, events, kEndTrainEventType);
}

absl::StatusOr<size_t> insertPerformanceRows(Database& database,
                                             std::span<const PerformanceRow> rows) {
  static constexpr InsertColumn kColumns[] = {
      {"pod_uuid", nullptr},         {"performance", "JSONB"}, {"iteration", "BIGINT"},
      {"created_at", "TIMESTAMPTZ"}, {"serial", "INTEGER"},    {"workload_uid", nullptr}};
  const Driver driver = database.dialect().driver;
  return insertRows(
      database, "training_performance", kColumns,
      "t.workload_uid = v.workload_uid AND t.serial = v.serial AND t.iteration = v.iteration", rows,
      [driver](const PerformanceRow& row, Binder& binder) {
        binder.text(row.pod_uid);
        binder.text(row.performance_json);
        binder.integer(row.iteration);
        binder.ownText(formatTimestamp(driver, row.time_us));
        binder.integer(row.serial);
        binder.text(row.workload_uid);
      });
}

absl::StatusOr<size_t> insertCheckpointStarts(Database& database,
                                              std::span<const CheckpointLine> starts) {
  std::vector<CheckpointRow> saves, loads;
  for (const CheckpointLine* start : operations(starts, CheckpointOperation::kSave)) {
    saves.push_back({.line = start,
                     .event_type = kStartSaving,
                     .status = kInProgress,
                     .start_us = start->time_us});
  }
  for (const CheckpointLine* start : operations(starts, CheckpointOperation::kLoad)) {
    loads.push_back(
        {.line = start, .event_type = kLoading, .status = kInProgress, .start_us = start->time_us});
  }
  // A save already ended (here or by another writer) gets no start row.
  auto inserted = insertCheckpointRows(database, saves, "'start_saving', 'end_saving'");
  if (!inserted.ok()) return inserted.status();
  auto loads_inserted = insertCheckpointRows(database, loads, "'loading'");
  if (!loads_inserted.ok()) return loads_inserted.status();
  if (!saves.empty()) {
    // An end written after our guard ran but before our row existed deleted no start: ours goes
    // now. MySQL may not DELETE with a subquery on the same table, hence the keys read first.
    std::vector<const CheckpointLine*> lines;
    lines.reserve(saves.size());
    for (const CheckpointRow& save : saves) lines.push_back(save.line);
    auto ended = readOperations(database, lines, kEndSaving);
    if (!ended.ok()) return ended.status();
    std::vector<const CheckpointLine*> superseded;
    for (const CheckpointLine* line : lines) {
      if (ended->contains(keyOf(*line))) superseded.push_back(line);
    }
    TP_RETURN_IF_ERROR(deleteOperations(database, superseded, kStartSaving));
  }
  return *inserted + *loads_inserted;
}

absl::StatusOr<std::vector<std::optional<int64_t>>> completeCheckpoints(
    Database& database, std::span<const CheckpointLine> ends) {
  std::vector<std::optional<int64_t>> durations(ends.size());
  const std::vector<const CheckpointLine*> saves = operations(ends, CheckpointOperation::kSave);
  const std::vector<const CheckpointLine*> loads = operations(ends, CheckpointOperation::kLoad);
  if (!saves.empty()) {
    TP_RETURN_IF_ERROR(completeSaves(database, saves));
    auto stored = readOperations(database, saves, kEndSaving);
    if (!stored.ok()) return stored.status();
    takeDurations(ends, CheckpointOperation::kSave, *stored, durations);
  }
  if (!loads.empty()) {
    TP_RETURN_IF_ERROR(completeLoads(database, loads));
    auto stored = readOperations(database, loads, kLoading);
    if (!stored.ok()) return stored.status();
    takeDurations(ends, CheckpointOperation::kLoad, *stored, durations);
  }
  return durations;
}

}  // namespace tp::storage
