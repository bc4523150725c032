#include "storage/training_rows.h"

#include <soci/soci.h>

#include <ctime>

#include "common/status.h"
#include "common/strings.h"

namespace tp::storage {
namespace {

// Statement suffix that turns an INSERT into insert-if-absent on any unique key: covers the race
// between the NOT EXISTS check and the insert when another writer inserts the same key.
std::string_view ignoreDuplicates(Driver driver) {
  return driver == Driver::kMysql ? " ON DUPLICATE KEY UPDATE id = id" : " ON CONFLICT DO NOTHING";
}

// SQLite allows at most 500 terms in one compound SELECT.
constexpr size_t kMaxRowsPerStatement = 500;

struct InsertColumn {
  const char* name;
  // PostgreSQL types a parameter of a UNION as text; the others convert on insert.
  const char* postgres_cast;  // nullptr: text
};

// "INSERT INTO t (a, b) SELECT v.a, v.b FROM (SELECT :p0 AS a, :p1 AS b UNION ALL SELECT :p2, :p3)
// v WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.k = v.k ...) ON CONFLICT DO NOTHING". The NOT
// EXISTS guard makes the write exactly-once for new rows even where a unique key could not be
// created (a database with old duplicates); the suffix covers the race when the key exists.
// Affected rows are then rows inserted on every backend: no duplicate is "updated" (SOCI's MySQL
// backend connects with CLIENT_FOUND_ROWS, which would count such updates as written).
std::string guardedInsert(Driver driver, std::string_view table,
                          std::span<const InsertColumn> columns, std::string_view key_condition,
                          size_t rows) {
  std::string names;
  std::string selected;
  for (const InsertColumn& column : columns) {
    names += common::concat(names.empty() ? "" : ", ", column.name);
    selected += common::concat(selected.empty() ? "" : ", ", "v.", column.name);
  }
  std::string values;
  size_t next = 0;
  for (size_t row = 0; row < rows; ++row) {
    values += row == 0 ? "SELECT " : " UNION ALL SELECT ";
    for (size_t i = 0; i < columns.size(); ++i) {
      // SQLite looks every named parameter up in a list of all of them when it compiles the
      // statement (quadratic in a 500-row insert); "?" is bound by position like the rest.
      const std::string placeholder =
          driver == Driver::kSqlite ? std::string("?") : common::concat(":p", next++);
      const char* cast = driver == Driver::kPostgres ? columns[i].postgres_cast : nullptr;
      values += i == 0 ? "" : ", ";
      values +=
          cast == nullptr ? placeholder : common::concat("CAST(", placeholder, " AS ", cast, ")");
      if (row == 0) values += common::concat(" AS ", columns[i].name);
    }
  }
  return common::concat("INSERT INTO ", table, " (", names, ") SELECT ", selected, " FROM (",
                        values, ") v WHERE NOT EXISTS (SELECT 1 FROM ", table, " t WHERE ",
                        key_condition, ")", ignoreDuplicates(driver));
}

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
      // SOCI binds by reference: the converted values must stay put until execute().
      std::vector<std::string> texts;
      std::vector<long long> integers;
      texts.reserve(chunk.size() * columns.size());
      integers.reserve(chunk.size() * columns.size());
      soci::statement statement(sql);
      for (const Row& row : chunk) bind(row, statement, texts, integers);
      statement.alloc();
      statement.prepare(query);
      statement.define_and_bind();
      statement.execute(true);
      const long long affected = statement.get_affected_rows();
      inserted += affected > 0 ? static_cast<size_t>(affected) : 0;
    }));
  }
  return inserted;
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
  static constexpr InsertColumn kColumns[] = {
      {"workload_uid", nullptr},     {"type", nullptr},    {"run_serial", "INTEGER"},
      {"created_at", "TIMESTAMPTZ"}, {"pod_uid", nullptr}, {"nearest_workload_uid", nullptr}};
  const Driver driver = database.dialect().driver;
  return insertRows(
      database, "workload_event", kColumns,
      "t.workload_uid = v.workload_uid AND t.nearest_workload_uid = v.nearest_workload_uid AND "
      "t.type = v.type",
      events,
      [driver](const RunEvent& event, soci::statement& statement,
               std::vector<std::string>& texts, std::vector<long long>& integers) {
        statement.exchange(soci::use(event.workload_uid));
        texts.emplace_back(kStartTrainEventType);
        statement.exchange(soci::use(texts.back()));
        integers.push_back(event.run_serial);
        statement.exchange(soci::use(integers.back()));
        texts.push_back(formatTimestamp(driver, event.time_us));
        statement.exchange(soci::use(texts.back()));
        statement.exchange(soci::use(event.pod_uid));
        statement.exchange(soci::use(event.nearest_workload_uid));
      });
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
      [driver](const PerformanceRow& row, soci::statement& statement,
               std::vector<std::string>& texts, std::vector<long long>& integers) {
        statement.exchange(soci::use(row.pod_uid));
        statement.exchange(soci::use(row.performance_json));
        integers.push_back(row.iteration);
        statement.exchange(soci::use(integers.back()));
        texts.push_back(formatTimestamp(driver, row.time_us));
        statement.exchange(soci::use(texts.back()));
        integers.push_back(row.serial);
        statement.exchange(soci::use(integers.back()));
        statement.exchange(soci::use(row.workload_uid));
      });
}

}  // namespace tp::storage
