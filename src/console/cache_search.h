#pragma once
// GET /ui/api/cache/search: the console's Caches page. Finds nodes, pods (by name or UID) and
// workloads of the current cluster-state snapshot by prefix, in key order, a page at a time, and
// shows their device -> pod and pod -> workload entries. The sorted keys are built once per
// snapshot generation, when the page first asks; a search is a binary search and one page.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cache/cache_refresher.h"
#include "cache/cluster_snapshot.h"
#include "common/json_writer.h"
#include "http/router.h"

namespace tp::console {

enum class SearchBy { kNode, kPod, kPodUid, kWorkload };
inline constexpr std::array<std::string_view, 4> kSearchByNames = {"node", "pod", "pod_uid",
                                                                   "workload"};

struct CacheQuery {
  SearchBy by = SearchBy::kPod;
  std::string prefix;
  std::string after;  // the cursor: the last key of the previous page
  size_t limit = 50;
};

inline constexpr size_t kMaxSearchLimit = 200;
// Bounds that keep one result small whatever the cluster: a node's devices, a workload's pods.
inline constexpr size_t kMaxDevicesShown = 256;
inline constexpr size_t kMaxPodsShown = 100;

// The snapshot's keys in order, and what a result needs that the snapshot has no index for.
class SnapshotIndex {
 public:
  explicit SnapshotIndex(std::shared_ptr<const cache::ClusterSnapshot> snapshot,
                         uint64_t generation = 0);
  // The generation of the snapshot the results come from.
  uint64_t generation() const { return generation_; }

  // The page of results as JSON: {"results":[...],"next_cursor"?}, without the envelope.
  void write(common::JsonWriter& writer, const CacheQuery& query) const;

 private:
  struct Key {
    std::string_view key;     // what the prefix is matched against
    std::string_view second;  // pods: the other of name and uid; workloads: the uid
  };
  void writeNode(common::JsonWriter& writer, std::string_view node) const;
  void writePod(common::JsonWriter& writer, std::string_view name, std::string_view uid) const;
  void writeWorkload(common::JsonWriter& writer, std::string_view name, std::string_view uid) const;

  std::shared_ptr<const cache::ClusterSnapshot> snapshot_;
  uint64_t generation_;
  std::vector<Key> nodes_, pods_by_name_, pods_by_uid_, workloads_;
  absl::flat_hash_map<std::string_view, std::string_view> node_of_pod_uid_;
  absl::flat_hash_map<std::string_view, std::string_view> name_of_pod_uid_;
  absl::flat_hash_map<std::string_view, std::vector<std::string_view>> pod_uids_of_workload_;
};

// The index of the cache's current snapshot, rebuilt when the generation moves on.
class CacheSearch {
 public:
  explicit CacheSearch(const cache::CacheRefresher& cache) : cache_(cache) {}
  std::shared_ptr<const SnapshotIndex> index() const;

 private:
  const cache::CacheRefresher& cache_;
  mutable std::mutex mutex_;
  mutable uint64_t generation_ = 0;                     // guarded by mutex_
  mutable std::shared_ptr<const SnapshotIndex> index_;  // guarded by mutex_
};

// The query a request's parameters give (by, q, cursor, limit), or InvalidArgument naming one.
absl::StatusOr<CacheQuery> parseCacheQuery(std::string_view target);

void addCacheSearchRoute(http::Router& router, const cache::CacheRefresher& cache);

}  // namespace tp::console
