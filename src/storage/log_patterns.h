#pragma once
// Lens's training_log_pattern table: log patterns that operators (and Lens's log analysis) add
// while the processor runs. Read whole on every reload (it holds tens of rows); hit counts are
// added to the stored ones, so that replicas sum instead of overwriting each other.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/database.h"

namespace tp::storage {

// An enabled row, the columns the processor reads; NULL text columns are empty.
struct LogPatternRow {
  int64_t id = 0;
  std::string pattern;
  std::string pattern_type;   // performance, blacklist, training_event, checkpoint_event
  std::string event_subtype;  // start_training, end_training, start_saving, end_saving, loading
  std::string source;         // manual, autodiscovered, migration; NULL reads as manual
  std::string framework;
  std::string name;
  std::string sample_line;
  int64_t priority = 50;  // NULL reads as Lens's default

  bool operator==(const LogPatternRow&) const = default;
};

// The enabled rows, highest priority first, then by id.
absl::StatusOr<std::vector<LogPatternRow>> readEnabledLogPatterns(Database& database);

struct LogPatternHits {
  int64_t id = 0;
  uint64_t count = 0;
  int64_t last_hit_us = 0;
};

// hit_count += count and last_hit_at = the later of the stored one and last_hit_us, per row, in
// one transaction. A row deleted meanwhile takes nothing.
absl::Status addLogPatternHits(Database& database, std::span<const LogPatternHits> hits);

}  // namespace tp::storage
