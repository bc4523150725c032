#include "console/cache_search.h"

#include <algorithm>
#include <charconv>

#include "absl/container/flat_hash_set.h"
#include "common/strings.h"
#include "http/envelope.h"
#include "http/query.h"

namespace tp::console {
namespace {

// A cursor is "<key>/<second>": neither Kubernetes names nor UIDs hold a '/'.
std::string cursorOf(std::string_view key, std::string_view second) {
  return common::concat(key, "/", second);
}

void writeRef(common::JsonWriter& writer, std::string_view name, std::string_view uid) {
  writer.StartObject();
  writer.Key("name");
  common::writeString(writer, name);
  writer.Key("uid");
  common::writeString(writer, uid);
  writer.EndObject();
}

void writeWorkloads(common::JsonWriter& writer, const cache::WorkloadList* workloads) {
  writer.StartArray();
  if (workloads != nullptr) {
    for (const cache::WorkloadRef* workload : *workloads) {
      writeRef(writer, workload->name, workload->uid);
    }
  }
  writer.EndArray();
}

// A node's devices of one label in order; gpu_id keys are numbers: "2" before "10".
std::vector<std::pair<std::string_view, const cache::PodRef*>> sortedDevices(
    const cache::ClusterSnapshot::DeviceMap& devices) {
  std::vector<std::pair<std::string_view, const cache::PodRef*>> sorted(devices.begin(),
                                                                        devices.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
  });
  return sorted;
}

}  // namespace

SnapshotIndex::SnapshotIndex(std::shared_ptr<const cache::ClusterSnapshot> snapshot,
                             uint64_t generation)
    : snapshot_(std::move(snapshot)), generation_(generation) {
  const cache::ClusterSnapshot& state = *snapshot_;
  for (const auto& [node, devices] : state.nodes()) {
    nodes_.push_back({node, {}});
    for (const cache::ClusterSnapshot::DeviceMap& by_key : devices) {
      for (const auto& [key, pod] : by_key) {
        if (node_of_pod_uid_.emplace(pod->uid, node).second) {
          name_of_pod_uid_.emplace(pod->uid, pod->name);
          pods_by_name_.push_back({pod->name, pod->uid});
        }
      }
    }
  }
  // Pods known from their workloads only: by UID (their name is unknown) and by name.
  absl::flat_hash_map<std::string_view, std::string_view> workload_names;
  for (const auto& [uid, workloads] : state.workloadsByPodUid()) {
    const auto name = name_of_pod_uid_.find(uid);
    pods_by_uid_.push_back(
        {uid, name == name_of_pod_uid_.end() ? std::string_view() : name->second});
    for (const cache::WorkloadRef* workload : workloads) {
      pod_uids_of_workload_[workload->uid].push_back(uid);
      workload_names.emplace(workload->uid, workload->name);
    }
  }
  for (const auto& [uid, name] : name_of_pod_uid_) {
    if (!state.workloadsByPodUid().contains(common::toAbsl(uid)))
      pods_by_uid_.push_back({uid, name});
  }
  absl::flat_hash_set<std::string_view> device_pod_names;
  for (const Key& pod : pods_by_name_) device_pod_names.insert(pod.key);
  for (const auto& [name, workloads] : state.workloadsByPodName()) {
    if (!device_pod_names.contains(name)) pods_by_name_.push_back({name, {}});
  }
  for (const auto& [uid, name] : workload_names) workloads_.push_back({name, uid});
  const auto by_key = [](const Key& a, const Key& b) {
    return a.key != b.key ? a.key < b.key : a.second < b.second;
  };
  for (std::vector<Key>* keys : {&nodes_, &pods_by_name_, &pods_by_uid_, &workloads_}) {
    std::sort(keys->begin(), keys->end(), by_key);
  }
  for (auto& [workload, pods] : pod_uids_of_workload_) std::sort(pods.begin(), pods.end());
}

void SnapshotIndex::writeNode(common::JsonWriter& writer, std::string_view node) const {
  writer.StartObject();
  writer.Key("node");
  common::writeString(writer, node);
  writer.Key("devices");
  writer.StartArray();
  size_t shown = 0;
  bool truncated = false;
  if (const cache::ClusterSnapshot::NodeDevices* devices = snapshot_->node(node)) {
    for (size_t label = 0; label < cache::kDeviceLabels; ++label) {
      const auto sorted = sortedDevices((*devices)[label]);
      for (const auto& [key, pod] : sorted) {
        if (shown == kMaxDevicesShown) {
          truncated = true;
          break;
        }
        ++shown;
        writer.StartObject();
        writer.Key("label");
        common::writeString(writer, cache::kDeviceLabelNames[label]);
        writer.Key("device");
        common::writeString(writer, key);
        writer.Key("pod");
        writeRef(writer, pod->name, pod->uid);
        writer.EndObject();
      }
    }
  }
  writer.EndArray();
  writer.Key("devices_truncated");
  writer.Bool(truncated);
  writer.EndObject();
}

void SnapshotIndex::writePod(common::JsonWriter& writer, std::string_view name,
                             std::string_view uid) const {
  writer.StartObject();
  writer.Key("pod");
  writeRef(writer, name, uid);
  writer.Key("devices");
  writer.StartArray();
  size_t shown = 0;
  if (const auto node = node_of_pod_uid_.find(uid);
      !uid.empty() && node != node_of_pod_uid_.end()) {
    const cache::ClusterSnapshot::NodeDevices* devices = snapshot_->node(node->second);
    for (size_t label = 0; devices != nullptr && label < cache::kDeviceLabels; ++label) {
      for (const auto& [key, pod] : sortedDevices((*devices)[label])) {
        if (pod->uid != uid) continue;
        if (shown == kMaxDevicesShown) break;
        ++shown;
        writer.StartObject();
        writer.Key("node");
        common::writeString(writer, node->second);
        writer.Key("label");
        common::writeString(writer, cache::kDeviceLabelNames[label]);
        writer.Key("device");
        common::writeString(writer, key);
        writer.EndObject();
      }
    }
  }
  writer.EndArray();
  // As the enricher resolves: by UID when the UID is known, else every workload of the name.
  writer.Key("workloads");
  const cache::WorkloadList* by_uid = uid.empty() ? nullptr : snapshot_->workloadsOfPodUid(uid);
  writeWorkloads(writer, by_uid != nullptr ? by_uid : snapshot_->workloadsOfPodName(name));
  writer.Key("nearest_workload");
  if (const cache::WorkloadRef* nearest =
          uid.empty() ? nullptr : snapshot_->nearestWorkloadOfPod(uid)) {
    writeRef(writer, nearest->name, nearest->uid);
  } else {
    writer.Null();
  }
  writer.EndObject();
}

void SnapshotIndex::writeWorkload(common::JsonWriter& writer, std::string_view name,
                                  std::string_view uid) const {
  writer.StartObject();
  writer.Key("workload");
  writeRef(writer, name, uid);
  writer.Key("pods");
  writer.StartArray();
  bool truncated = false;
  if (const auto pods = pod_uids_of_workload_.find(uid); pods != pod_uids_of_workload_.end()) {
    truncated = pods->second.size() > kMaxPodsShown;
    for (size_t i = 0; i < std::min(pods->second.size(), kMaxPodsShown); ++i) {
      const auto pod_name = name_of_pod_uid_.find(pods->second[i]);
      writeRef(writer, pod_name == name_of_pod_uid_.end() ? std::string_view() : pod_name->second,
               pods->second[i]);
    }
  }
  writer.EndArray();
  writer.Key("pods_truncated");
  writer.Bool(truncated);
  writer.EndObject();
}

void SnapshotIndex::write(common::JsonWriter& writer, const CacheQuery& query) const {
  const std::vector<Key>& keys = query.by == SearchBy::kNode     ? nodes_
                                 : query.by == SearchBy::kPod    ? pods_by_name_
                                 : query.by == SearchBy::kPodUid ? pods_by_uid_
                                                                 : workloads_;
  // The first key after the cursor (or at the prefix), then every one the prefix starts.
  const size_t slash = query.after.find('/');
  const Key after{std::string_view(query.after).substr(0, slash),
                  slash == std::string::npos ? std::string_view()
                                             : std::string_view(query.after).substr(slash + 1)};
  auto it = std::lower_bound(keys.begin(), keys.end(), Key{query.prefix, {}},
                             [](const Key& a, const Key& b) {
                               return a.key != b.key ? a.key < b.key : a.second < b.second;
                             });
  if (!query.after.empty()) {
    it = std::upper_bound(it, keys.end(), after, [](const Key& a, const Key& b) {
      return a.key != b.key ? a.key < b.key : a.second < b.second;
    });
  }
  writer.Key("results");
  writer.StartArray();
  size_t written = 0;
  std::string next_cursor;
  for (; it != keys.end() && it->key.starts_with(query.prefix); ++it) {
    if (written == query.limit) {
      next_cursor = cursorOf(std::prev(it)->key, std::prev(it)->second);
      break;
    }
    ++written;
    switch (query.by) {
      case SearchBy::kNode:
        writeNode(writer, it->key);
        break;
      case SearchBy::kPod:
        writePod(writer, it->key, it->second);
        break;
      case SearchBy::kPodUid:
        writePod(writer, it->second, it->key);
        break;
      case SearchBy::kWorkload:
        writeWorkload(writer, it->key, it->second);
        break;
    }
  }
  writer.EndArray();
  if (!next_cursor.empty()) {
    writer.Key("next_cursor");
    common::writeString(writer, next_cursor);
  }
}

std::shared_ptr<const SnapshotIndex> CacheSearch::index() const {
  // The generation first: a snapshot newer than it is rebuilt once more, never kept stale.
  const uint64_t generation = cache_.origin().generation;
  const auto snapshot = cache_.snapshot();
  std::lock_guard lock(mutex_);
  if (index_ == nullptr || generation != generation_) {
    index_ = std::make_shared<const SnapshotIndex>(snapshot, generation);
    generation_ = generation;
  }
  return index_;
}

absl::StatusOr<CacheQuery> parseCacheQuery(std::string_view target) {
  const http::QueryParameters parameters(target);
  CacheQuery query;
  const std::string_view by = parameters.get("by").value_or("pod");
  const auto named = std::find(kSearchByNames.begin(), kSearchByNames.end(), by);
  if (named == kSearchByNames.end()) {
    return absl::InvalidArgumentError("by: must be node, pod, pod_uid or workload");
  }
  query.by = static_cast<SearchBy>(named - kSearchByNames.begin());
  constexpr size_t kMaxQueryBytes = 256;
  query.prefix = std::string(parameters.get("q").value_or(""));
  if (query.prefix.size() > kMaxQueryBytes) {
    return absl::InvalidArgumentError("q: longer than 256 bytes");
  }
  query.after = std::string(parameters.get("cursor").value_or(""));
  if (query.after.size() > 2 * kMaxQueryBytes + 1 ||
      (!query.after.empty() && query.after.find('/') == std::string::npos)) {
    return absl::InvalidArgumentError("cursor: not a cursor this search gave");
  }
  if (const auto limit = parameters.get("limit")) {
    size_t value = 0;
    const auto [end, error] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
    if (error != std::errc() || end != limit->data() + limit->size() || value < 1 ||
        value > kMaxSearchLimit) {
      return absl::InvalidArgumentError("limit: must be an integer from 1 to 200");
    }
    query.limit = value;
  }
  return query;
}

void addCacheSearchRoute(http::Router& router, const cache::CacheRefresher& cache) {
  auto search = std::make_shared<CacheSearch>(cache);
  router.add("/ui/api/cache/search", {http::beast_http::verb::get},
             [search, &cache](const http::RequestContext& context) {
               auto query = parseCacheQuery(http::toStd(context.request.target()));
               if (!query.ok()) {
                 return http::errorResponse(context.request, 400, common::message(query.status()));
               }
               const auto index = search->index();
               const cache::SnapshotOrigin origin = cache.origin();
               return http::jsonResponse(
                   context.request, 200, http::envelopeOkWriting([&](common::JsonWriter& writer) {
                     writer.StartObject();
                     writer.Key("generation");
                     writer.Uint64(index->generation());
                     writer.Key("age_seconds");
                     writer.Int64(origin.age.count());
                     writer.Key("by");
                     common::writeString(writer, kSearchByNames[static_cast<size_t>(query->by)]);
                     writer.Key("q");
                     common::writeString(writer, query->prefix);
                     index->write(writer, *query);
                     writer.EndObject();
                   }));
             });
}

}  // namespace tp::console
