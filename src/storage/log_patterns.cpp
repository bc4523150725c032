#include "storage/log_patterns.h"

#include <soci/soci.h>

#include "common/status.h"
#include "common/strings.h"
#include "storage/statement.h"
#include "storage/training_rows.h"

namespace tp::storage {

absl::StatusOr<std::vector<LogPatternRow>> readEnabledLogPatterns(Database& database) {
  std::vector<LogPatternRow> rows;
  TP_RETURN_IF_ERROR(database.run([&](soci::session& sql) {
    soci::rowset<soci::row> found =
        (sql.prepare << "SELECT id, pattern, pattern_type, event_subtype, source, framework, name, "
                        "sample_line, priority FROM training_log_pattern WHERE enabled = TRUE "
                        "ORDER BY COALESCE(priority, 50) DESC, id");
    const auto text = [](const soci::row& row, size_t column) {
      return row.get_indicator(column) == soci::i_ok ? row.get<std::string>(column) : std::string();
    };
    // The integer types SOCI reports differ by backend and column type.
    const auto integer = [](const soci::row& row, size_t column) -> std::optional<int64_t> {
      if (row.get_indicator(column) != soci::i_ok) return std::nullopt;
      switch (row.get_properties(column).get_data_type()) {
        case soci::dt_integer:
          return row.get<int>(column);
        case soci::dt_long_long:
          return row.get<long long>(column);
        case soci::dt_unsigned_long_long:
          return static_cast<int64_t>(row.get<unsigned long long>(column));
        default:
          return static_cast<int64_t>(row.get<double>(column));
      }
    };
    for (const soci::row& row : found) {
      LogPatternRow pattern;
      pattern.id = integer(row, 0).value_or(0);
      pattern.pattern = text(row, 1);
      pattern.pattern_type = text(row, 2);
      pattern.event_subtype = text(row, 3);
      pattern.source = row.get_indicator(4) == soci::i_ok ? text(row, 4) : "manual";
      pattern.framework = text(row, 5);
      pattern.name = text(row, 6);
      pattern.sample_line = text(row, 7);
      pattern.priority = integer(row, 8).value_or(50);
      rows.push_back(std::move(pattern));
    }
  }));
  return rows;
}

absl::Status addLogPatternHits(Database& database, std::span<const LogPatternHits> hits) {
  if (hits.empty()) return absl::OkStatus();
  const Driver driver = database.dialect().driver;
  size_t next = 0;
  const std::string count = placeholder(driver, next, "BIGINT");
  const std::string newer = placeholder(driver, next, "TIMESTAMPTZ");
  const std::string latest = placeholder(driver, next, "TIMESTAMPTZ");
  const std::string id = placeholder(driver, next, "BIGINT");
  const std::string query =
      common::concat("UPDATE training_log_pattern SET hit_count = COALESCE(hit_count, 0) + ", count,
                     ", last_hit_at = CASE WHEN last_hit_at IS NULL OR last_hit_at < ", newer,
                     " THEN ", latest, " ELSE last_hit_at END WHERE id = ", id);
  return database.run([&](soci::session& sql) {
    soci::transaction transaction(sql);
    for (const LogPatternHits& hit : hits) {
      execute(sql, query, [&](Binder& binder) {
        binder.integer(static_cast<int64_t>(hit.count));
        binder.ownText(formatTimestamp(driver, hit.last_hit_us));
        binder.ownText(formatTimestamp(driver, hit.last_hit_us));
        binder.integer(hit.id);
      });
    }
    transaction.commit();
  });
}

}  // namespace tp::storage
