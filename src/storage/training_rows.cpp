#include "storage/training_rows.h"

#include <soci/soci.h>

#include <ctime>

#include "common/strings.h"

namespace tp::storage {
namespace {

// Statement suffix that turns an INSERT into insert-if-absent on any unique key.
std::string_view ignoreDuplicates(Driver driver) {
  return driver == Driver::kMysql ? " ON DUPLICATE KEY UPDATE id = id" : " ON CONFLICT DO NOTHING";
}

// "(:p0, :p1, ...), (...)" for `rows` rows of `columns` placeholders.
std::string placeholders(size_t rows, size_t columns) {
  std::string text;
  text.reserve(rows * columns * 8);
  size_t next = 0;
  for (size_t row = 0; row < rows; ++row) {
    text += row == 0 ? "(" : ", (";
    for (size_t column = 0; column < columns; ++column) {
      if (column != 0) text += ", ";
      text += common::concat(":p", next++);
    }
    text += ")";
  }
  return text;
}

// Binds the values `bind` adds for each row and runs one statement; returns affected rows.
template <typename Row, typename Bind>
absl::StatusOr<size_t> insertRows(Database& database, std::string_view head, size_t columns,
                                  std::span<const Row> rows, Bind bind) {
  if (rows.empty()) return 0;
  const std::string query = common::concat(head, placeholders(rows.size(), columns),
                                           ignoreDuplicates(database.dialect().driver));
  size_t inserted = 0;
  absl::Status status = database.run([&](soci::session& sql) {
    // SOCI binds by reference: the converted values must stay put until execute().
    std::vector<std::string> texts;
    std::vector<int> integers;
    texts.reserve(rows.size() * columns);
    integers.reserve(rows.size() * columns);
    soci::statement statement(sql);
    for (const Row& row : rows) bind(row, statement, texts, integers);
    statement.alloc();
    statement.prepare(query);
    statement.define_and_bind();
    statement.execute(true);
    const long long affected = statement.get_affected_rows();
    inserted = affected > 0 ? static_cast<size_t>(affected) : 0;
  });
  if (!status.ok()) return status;
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
  absl::Status status = database.run([&](soci::session& sql) {
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
  });
  if (!status.ok()) return status;
  return runs;
}

absl::StatusOr<size_t> insertStartTrainEvents(Database& database,
                                              std::span<const StartTrainEvent> events) {
  const Driver driver = database.dialect().driver;
  return insertRows(
      database,
      "INSERT INTO workload_event (workload_uid, type, run_serial, created_at, pod_uid, "
      "nearest_workload_uid) VALUES ",
      6, events,
      [driver](const StartTrainEvent& event, soci::statement& statement,
               std::vector<std::string>& texts, std::vector<int>& integers) {
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
  const Driver driver = database.dialect().driver;
  return insertRows(database,
                    "INSERT INTO training_performance (pod_uuid, performance, iteration, "
                    "created_at, serial, workload_uid) VALUES ",
                    6, rows,
                    [driver](const PerformanceRow& row, soci::statement& statement,
                             std::vector<std::string>& texts, std::vector<int>& integers) {
                      statement.exchange(soci::use(row.pod_uid));
                      statement.exchange(soci::use(row.performance_json));
                      integers.push_back(static_cast<int>(row.iteration));
                      statement.exchange(soci::use(integers.back()));
                      texts.push_back(formatTimestamp(driver, row.time_us));
                      statement.exchange(soci::use(texts.back()));
                      integers.push_back(row.serial);
                      statement.exchange(soci::use(integers.back()));
                      statement.exchange(soci::use(row.workload_uid));
                    });
}

}  // namespace tp::storage
