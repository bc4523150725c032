#pragma once
// Reads the cluster state the caches are built from, with one set-based query per cache (the
// reference issued one query per pod and per container). Rows are streamed to a callback in
// batches, so a 100 000-pod cluster is never held twice in memory.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "storage/database.h"

namespace tp::storage {

// One device of a container of a running pod.
struct DevicePodRow {
  std::string node_name;
  std::string pod_name;
  std::string pod_uid;
  std::string device_type;
  std::string device_name;
  std::optional<int> device_no;
};

// One running workload referencing one running pod.
struct WorkloadPodRow {
  std::string pod_name;
  std::string pod_uid;
  std::string workload_name;
  std::string workload_uid;
  std::string parent_uid;  // empty when the workload has no parent
};

absl::Status readDevicePods(Database& database,
                            const std::function<void(const DevicePodRow&)>& on_row);
absl::Status readWorkloadPods(Database& database,
                              const std::function<void(const WorkloadPodRow&)>& on_row);

}  // namespace tp::storage
