#include "cache/cluster_snapshot.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "common/strings.h"

namespace tp::cache {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void addUnique(WorkloadList& list, const WorkloadRef* workload) {
  if (std::find(list.begin(), list.end(), workload) == list.end()) list.push_back(workload);
}

void sortByUid(WorkloadList& list) {
  std::sort(list.begin(), list.end(),
            [](const WorkloadRef* a, const WorkloadRef* b) { return a->uid < b->uid; });
}

}  // namespace

bool deviceLabelOf(std::string_view device_type, DeviceLabel* label) {
  if (equalsIgnoreCase(device_type, "gpu")) {
    *label = DeviceLabel::kGpuId;
  } else if (equalsIgnoreCase(device_type, "ib") || equalsIgnoreCase(device_type, "rdma")) {
    *label = DeviceLabel::kDevice;
  } else if (equalsIgnoreCase(device_type, "asic")) {
    *label = DeviceLabel::kAsic;
  } else {
    return false;
  }
  return true;
}

const ClusterSnapshot::NodeDevices* ClusterSnapshot::node(std::string_view node_name) const {
  const auto it = nodes_.find(common::toAbsl(node_name));
  return it == nodes_.end() ? nullptr : &it->second;
}

const PodRef* ClusterSnapshot::podOfDevice(std::string_view node_name, DeviceLabel label,
                                           std::string_view device_key) const {
  const NodeDevices* devices = node(node_name);
  if (devices == nullptr) return nullptr;
  const DeviceMap& map = (*devices)[static_cast<size_t>(label)];
  const auto it = map.find(common::toAbsl(device_key));
  return it == map.end() ? nullptr : it->second;
}

const WorkloadList* ClusterSnapshot::workloadsOfPodName(std::string_view pod_name) const {
  const auto it = workloads_by_pod_name_.find(common::toAbsl(pod_name));
  return it == workloads_by_pod_name_.end() ? nullptr : &it->second;
}

const WorkloadList* ClusterSnapshot::workloadsOfPodUid(std::string_view pod_uid) const {
  const auto it = workloads_by_pod_uid_.find(common::toAbsl(pod_uid));
  return it == workloads_by_pod_uid_.end() ? nullptr : &it->second;
}

const WorkloadRef* ClusterSnapshot::nearestWorkloadOfPod(std::string_view pod_uid) const {
  const auto it = nearest_by_pod_uid_.find(common::toAbsl(pod_uid));
  return it == nearest_by_pod_uid_.end() ? nullptr : it->second;
}

void ClusterSnapshot::linkPods() {
  for (auto& pod : pods_) {
    pod->workloads_by_uid = workloadsOfPodUid(pod->uid);
    pod->workloads_by_name = workloadsOfPodName(pod->name);
  }
}

SnapshotBuilder::SnapshotBuilder() : snapshot_(new ClusterSnapshot()) {}

const PodRef* SnapshotBuilder::internPod(const std::string& name, const std::string& uid) {
  auto [it, inserted] = pod_by_uid_.try_emplace(uid, nullptr);
  if (inserted) {
    snapshot_->pods_.push_back(std::make_unique<PodRef>(PodRef{name, uid}));
    it->second = snapshot_->pods_.back().get();
  }
  return it->second;
}

const WorkloadRef* SnapshotBuilder::internWorkload(const std::string& name,
                                                   const std::string& uid) {
  auto [it, inserted] = workload_by_uid_.try_emplace(uid, nullptr);
  if (inserted) {
    snapshot_->workloads_.push_back(std::make_unique<WorkloadRef>(WorkloadRef{name, uid}));
    it->second = snapshot_->workloads_.back().get();
  }
  return it->second;
}

void SnapshotBuilder::addDevice(const storage::DevicePodRow& row) {
  DeviceLabel label;
  if (!deviceLabelOf(row.device_type, &label)) {
    ++snapshot_->ignored_unknown_type_;
    return;
  }
  std::string key;
  if (label == DeviceLabel::kGpuId) {
    if (!row.device_no) {
      ++snapshot_->ignored_without_number_;
      return;
    }
    key = std::to_string(*row.device_no);
  } else {
    key = row.device_name;
  }
  const PodRef* pod = internPod(row.pod_name, row.pod_uid);
  auto& devices = snapshot_->nodes_[row.node_name][static_cast<size_t>(label)];
  if (devices.insert_or_assign(std::move(key), pod).second) ++snapshot_->device_count_;
}

void SnapshotBuilder::addWorkloadPod(const storage::WorkloadPodRow& row) {
  const WorkloadRef* workload = internWorkload(row.workload_name, row.workload_uid);
  if (!row.parent_uid.empty()) parent_of_workload_[row.workload_uid] = row.parent_uid;
  addUnique(snapshot_->workloads_by_pod_name_[row.pod_name], workload);
  addUnique(snapshot_->workloads_by_pod_uid_[row.pod_uid], workload);
}

std::shared_ptr<const ClusterSnapshot> SnapshotBuilder::build() {
  for (auto& [name, list] : snapshot_->workloads_by_pod_name_) sortByUid(list);
  for (auto& [pod_uid, list] : snapshot_->workloads_by_pod_uid_) {
    sortByUid(list);
    // The nearest workload is the one no other workload of this pod names as its parent;
    // with several such leaves the order by UID keeps the choice stable across refreshes.
    absl::flat_hash_set<absl::string_view> parents;
    for (const WorkloadRef* workload : list) {
      const auto parent = parent_of_workload_.find(workload->uid);
      if (parent != parent_of_workload_.end()) parents.insert(parent->second);
    }
    const WorkloadRef* nearest = list.front();
    for (const WorkloadRef* workload : list) {
      if (!parents.contains(workload->uid)) {
        nearest = workload;
        break;
      }
    }
    snapshot_->nearest_by_pod_uid_.emplace(pod_uid, nearest);
  }
  snapshot_->linkPods();
  return std::shared_ptr<const ClusterSnapshot>(snapshot_.release());
}

}  // namespace tp::cache
