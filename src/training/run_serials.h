#pragma once
// Run serials (SPEC §5). A workload restarted under a new leaf ("nearest") workload is a new
// run. For (workload, nearest): the serial of its StartTrain event when one is recorded; else
// 1 + the latest serial among the workload's runs under other nearest workloads; else 1.
// Kept in memory per workload, filled from the database the first time a workload is seen.
// Used by the training writer's thread only.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/training_rows.h"

namespace tp::training {

class RunSerials {
 public:
  bool loaded(std::string_view workload_uid) const;
  // Replaces what is known about a workload with its recorded runs.
  void load(std::string_view workload_uid, const std::vector<storage::RunRecord>& runs);

  std::optional<int> recorded(std::string_view workload_uid, std::string_view nearest_uid) const;
  int serialFor(std::string_view workload_uid, std::string_view nearest_uid) const;
  void record(std::string_view workload_uid, std::string_view nearest_uid, int serial);

  size_t workloadCount() const { return runs_.size(); }

 private:
  using Runs = absl::flat_hash_map<std::string, int>;  // nearest workload -> serial
  absl::flat_hash_map<std::string, Runs> runs_;
};

}  // namespace tp::training
