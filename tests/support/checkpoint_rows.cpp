#include "support/checkpoint_rows.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "soci/soci.h"
#include "storage/dialect.h"

namespace tp::testing {
namespace {

struct Text {
  std::string value;
  soci::indicator null = soci::i_ok;
  std::string get() const { return null == soci::i_ok ? value : std::string(); }
};

struct Number {
  long long value = 0;
  soci::indicator null = soci::i_ok;
  std::optional<int64_t> get() const {
    return null == soci::i_ok ? std::optional<int64_t>(value) : std::nullopt;
  }
};

}  // namespace

std::vector<StoredCheckpoint> readCheckpoints(storage::Database& database) {
  const storage::Driver driver = database.dialect().driver;
  const std::string query = common::concat(
      "SELECT workload_uid, pod_uuid, serial, iteration, checkpoint_path, event_type, status, ",
      storage::epochMicros(driver, "start_time"), ", ", storage::epochMicros(driver, "end_time"),
      ", ", storage::epochMicros(driver, "created_at"),
      ", duration_ms, size_bytes, CASE WHEN is_fast_ckpt THEN 1 ELSE 0 END, metadata "
      "FROM checkpoint_event ORDER BY id");
  std::vector<StoredCheckpoint> checkpoints;
  const absl::Status status = database.run([&](soci::session& sql) {
    Text workload, pod, path, type, state, metadata;
    Number serial, iteration, start, end, created, duration, size, fast;
    soci::statement statement =
        (sql.prepare << query, soci::into(workload.value, workload.null),
         soci::into(pod.value, pod.null), soci::into(serial.value, serial.null),
         soci::into(iteration.value, iteration.null), soci::into(path.value, path.null),
         soci::into(type.value, type.null), soci::into(state.value, state.null),
         soci::into(start.value, start.null), soci::into(end.value, end.null),
         soci::into(created.value, created.null), soci::into(duration.value, duration.null),
         soci::into(size.value, size.null), soci::into(fast.value, fast.null),
         soci::into(metadata.value, metadata.null));
    statement.execute(false);
    while (statement.fetch()) {
      checkpoints.push_back({.workload_uid = workload.get(),
                             .pod_uuid = pod.get(),
                             .serial = static_cast<int>(serial.value),
                             .iteration = iteration.value,
                             .checkpoint_path = path.get(),
                             .event_type = type.get(),
                             .status = state.get(),
                             .start_us = start.get(),
                             .end_us = end.get(),
                             .created_us = created.get(),
                             .duration_ms = duration.get(),
                             .size_bytes = size.get(),
                             .is_fast_ckpt = fast.value != 0,
                             .metadata = metadata.get()});
    }
  });
  EXPECT_TRUE(status.ok()) << status;
  return checkpoints;
}

}  // namespace tp::testing
