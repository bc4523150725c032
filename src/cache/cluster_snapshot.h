#pragma once
// An immutable picture of the cluster state that every metric and log line is resolved
// against: node -> device label -> device -> pod, pod name / pod UID -> workloads, and each
// pod's nearest (leaf) workload. Built once per refresh, then only read, from any thread,
// without locks.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "storage/cluster_state.h"

namespace tp::cache {

// The series label naming a device, per device type: gpu -> gpu_id (keyed by device_no),
// ib and rdma -> device (keyed by device_name), ASIC -> asic (keyed by device_name).
enum class DeviceLabel : uint8_t { kGpuId = 0, kDevice = 1, kAsic = 2 };
inline constexpr size_t kDeviceLabels = 3;
inline constexpr std::array<std::string_view, kDeviceLabels> kDeviceLabelNames = {"gpu_id",
                                                                                  "device", "asic"};

struct WorkloadRef {
  std::string name;
  std::string uid;
};

using WorkloadList = absl::InlinedVector<const WorkloadRef*, 2>;

// A running pod that holds devices. Its workloads are linked at build time, so resolving a
// series costs the node and device lookups only.
struct PodRef {
  std::string name;
  std::string uid;
  const WorkloadList* workloads_by_uid = nullptr;   // null: no running workload
  const WorkloadList* workloads_by_name = nullptr;  // all pods of this name, as Lens keys them
};

class ClusterSnapshot {
 public:
  using DeviceMap = absl::flat_hash_map<std::string, const PodRef*>;
  using NodeDevices = std::array<DeviceMap, kDeviceLabels>;

  // The devices of a node by label, or nullptr when the node has no device of a running pod.
  const NodeDevices* node(std::string_view node_name) const;
  const PodRef* podOfDevice(std::string_view node_name, DeviceLabel label,
                            std::string_view device_key) const;
  // Workloads of the pods with this name (all namespaces), ordered by workload UID.
  const WorkloadList* workloadsOfPodName(std::string_view pod_name) const;
  const WorkloadList* workloadsOfPodUid(std::string_view pod_uid) const;
  // The leaf among the workloads of the pod: the one that is no other's parent.
  const WorkloadRef* nearestWorkloadOfPod(std::string_view pod_uid) const;

  size_t nodeCount() const { return nodes_.size(); }
  size_t deviceCount() const { return device_count_; }
  size_t podCount() const { return pods_.size(); }
  size_t workloadCount() const { return workloads_.size(); }
  size_t podNameCount() const { return workloads_by_pod_name_.size(); }
  size_t ignoredUnknownType() const { return ignored_unknown_type_; }
  size_t ignoredWithoutNumber() const { return ignored_without_number_; }

  const absl::flat_hash_map<std::string, NodeDevices>& nodes() const { return nodes_; }
  const absl::flat_hash_map<std::string, WorkloadList>& workloadsByPodName() const {
    return workloads_by_pod_name_;
  }
  const absl::flat_hash_map<std::string, WorkloadList>& workloadsByPodUid() const {
    return workloads_by_pod_uid_;
  }

 private:
  friend class SnapshotBuilder;
  friend class SnapshotCodec;  // cache/snapshot_file.cpp

  // Points each pod at its workload lists; only once the maps are final, as it points into them.
  void linkPods();

  // Stable storage that the maps point into.
  std::vector<std::unique_ptr<PodRef>> pods_;
  std::vector<std::unique_ptr<WorkloadRef>> workloads_;

  absl::flat_hash_map<std::string, NodeDevices> nodes_;
  absl::flat_hash_map<std::string, WorkloadList> workloads_by_pod_name_;
  absl::flat_hash_map<std::string, WorkloadList> workloads_by_pod_uid_;
  absl::flat_hash_map<std::string, const WorkloadRef*> nearest_by_pod_uid_;
  size_t device_count_ = 0;
  size_t ignored_unknown_type_ = 0;
  size_t ignored_without_number_ = 0;
};

// Collects database rows and produces a snapshot. Not thread-safe; one per refresh.
class SnapshotBuilder {
 public:
  SnapshotBuilder();

  void addDevice(const storage::DevicePodRow& row);
  void addWorkloadPod(const storage::WorkloadPodRow& row);
  std::shared_ptr<const ClusterSnapshot> build();

 private:
  const PodRef* internPod(const std::string& name, const std::string& uid);
  const WorkloadRef* internWorkload(const std::string& name, const std::string& uid);

  std::unique_ptr<ClusterSnapshot> snapshot_;
  absl::flat_hash_map<std::string, const PodRef*> pod_by_uid_;
  absl::flat_hash_map<std::string, const WorkloadRef*> workload_by_uid_;
  absl::flat_hash_map<std::string, std::string> parent_of_workload_;
};

// Maps a Lens device_type to its label; false for types outside gpu, ib, rdma, ASIC.
bool deviceLabelOf(std::string_view device_type, DeviceLabel* label);

}  // namespace tp::cache
