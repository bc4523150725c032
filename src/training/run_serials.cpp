#include "training/run_serials.h"

#include <algorithm>

namespace tp::training {

bool RunSerials::loaded(std::string_view workload_uid) const {
  return runs_.contains(std::string(workload_uid));
}

void RunSerials::load(std::string_view workload_uid, const std::vector<storage::RunRecord>& runs) {
  Runs& known = runs_[std::string(workload_uid)];
  known.clear();
  for (const storage::RunRecord& run : runs) {
    // Duplicates can exist in a database that predates the unique key: keep the first serial.
    known.emplace(run.nearest_workload_uid, run.run_serial);
  }
}

std::optional<int> RunSerials::recorded(std::string_view workload_uid,
                                        std::string_view nearest_uid) const {
  const auto workload = runs_.find(std::string(workload_uid));
  if (workload == runs_.end()) return std::nullopt;
  const auto run = workload->second.find(std::string(nearest_uid));
  if (run == workload->second.end()) return std::nullopt;
  return run->second;
}

int RunSerials::serialFor(std::string_view workload_uid, std::string_view nearest_uid) const {
  if (auto serial = recorded(workload_uid, nearest_uid)) return *serial;
  const auto workload = runs_.find(std::string(workload_uid));
  if (workload == runs_.end()) return 1;
  int latest = 0;
  for (const auto& [nearest, serial] : workload->second) latest = std::max(latest, serial);
  return latest + 1;
}

void RunSerials::record(std::string_view workload_uid, std::string_view nearest_uid, int serial) {
  runs_[std::string(workload_uid)][std::string(nearest_uid)] = serial;
}

}  // namespace tp::training
