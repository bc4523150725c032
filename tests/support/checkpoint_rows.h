#pragma once
// Reads checkpoint_event back for tests: every row, in insertion order, times in microseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.h"

namespace tp::testing {

struct StoredCheckpoint {
  std::string workload_uid;
  std::string pod_uuid;
  int serial = 0;
  int64_t iteration = 0;
  std::string checkpoint_path;
  std::string event_type;
  std::string status;
  std::optional<int64_t> start_us;
  std::optional<int64_t> end_us;
  std::optional<int64_t> created_us;
  std::optional<int64_t> duration_ms;
  std::optional<int64_t> size_bytes;
  bool is_fast_ckpt = true;
  std::string metadata;
};

// A failure to read fails the calling test and returns what was read.
std::vector<StoredCheckpoint> readCheckpoints(storage::Database& database);

}  // namespace tp::testing
