#include "app/db_command.h"

#include "common/status.h"
#include "common/strings.h"
#include "storage/schema.h"

namespace tp::app {

absl::Status runDedupe(storage::Database& database, bool apply, std::ostream& output) {
  // The tables must exist before their duplicates can be counted; warnings here are the keys
  // that the duplicates block, which is what this command reports.
  TP_RETURN_IF_ERROR(storage::ensureSchema(database, nullptr));
  auto reports = storage::dedupe(database, apply);
  if (!reports.ok()) return reports.status();
  for (const storage::DuplicateReport& report : *reports) {
    output << common::concat(report.table, " (", report.key, "): ", report.duplicate_groups,
                             " duplicated keys, ", report.extra_rows, " extra rows");
    if (apply) {
      output << common::concat(", ", report.deleted_rows, " deleted, unique key ",
                               report.key_present ? "present" : "missing");
    } else {
      output << common::concat(", unique key ", report.key_present ? "present" : "missing",
                               report.extra_rows > 0 && !report.key_present
                                   ? " (run with --apply to delete the extra rows and create it)"
                                   : "");
    }
    output << "\n";
  }
  return absl::OkStatus();
}

}  // namespace tp::app
