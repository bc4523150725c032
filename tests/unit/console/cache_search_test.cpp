// The Caches page's search: nodes, pods (by name or UID) and workloads of a snapshot by prefix,
// in key order, a page at a time; what each result shows; and the refusals of bad parameters.

#include "console/cache_search.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cache/cluster_snapshot.h"
#include "common/json_writer.h"
#include "storage/cluster_state.h"

namespace tp::console {
namespace {

using Ref = std::pair<std::string, std::string>;  // name, uid

storage::DevicePodRow gpu(std::string node, std::string pod, std::string uid, int number) {
  return {std::move(node), std::move(pod), std::move(uid), "gpu", "card" + std::to_string(number),
          number};
}

storage::DevicePodRow ib(std::string node, std::string pod, std::string uid, std::string device) {
  return {std::move(node), std::move(pod), std::move(uid), "ib", std::move(device), std::nullopt};
}

storage::WorkloadPodRow reference(std::string pod, std::string pod_uid, std::string workload,
                                  std::string workload_uid, std::string parent = "") {
  return {std::move(pod), std::move(pod_uid), std::move(workload), std::move(workload_uid),
          std::move(parent)};
}

// "007": keys whose text order is their number order.
std::string padded(int number) {
  std::string text = std::to_string(number);
  return std::string(text.size() < 3 ? 3 - text.size() : 0, '0') + text;
}

CacheQuery query(SearchBy by, std::string prefix, size_t limit = 50, std::string after = "") {
  return {.by = by, .prefix = std::move(prefix), .after = std::move(after), .limit = limit};
}

// An index and the JSON of its last page; an element it gives is valid until the next page.
class Search {
 public:
  explicit Search(std::shared_ptr<const cache::ClusterSnapshot> snapshot)
      : index_(std::move(snapshot)) {}

  simdjson::dom::element page(const CacheQuery& query) {
    rapidjson::StringBuffer buffer;
    common::JsonWriter writer(buffer);
    writer.StartObject();
    index_.write(writer, query);
    writer.EndObject();
    json_ = buffer.GetString();
    return parser_.parse(json_);
  }

 private:
  SnapshotIndex index_;
  simdjson::dom::parser parser_;
  std::string json_;
};

std::string text(simdjson::dom::element value) { return std::string(std::string_view(value)); }

Ref refOf(simdjson::dom::element ref) { return {text(ref["name"]), text(ref["uid"])}; }

std::vector<Ref> refsOf(simdjson::dom::element list) {
  std::vector<Ref> refs;
  for (simdjson::dom::element ref : simdjson::dom::array(list)) refs.push_back(refOf(ref));
  return refs;
}

// `member` ("pod" or "workload") of each result of a page.
std::vector<Ref> resultRefs(simdjson::dom::element page, std::string_view member) {
  std::vector<Ref> refs;
  for (simdjson::dom::element result : simdjson::dom::array(page["results"])) {
    refs.push_back(refOf(result[member]));
  }
  return refs;
}

std::vector<std::string> resultNodes(simdjson::dom::element page) {
  std::vector<std::string> nodes;
  for (simdjson::dom::element result : simdjson::dom::array(page["results"])) {
    nodes.push_back(text(result["node"]));
  }
  return nodes;
}

// "" when the page is the last.
std::string nextCursor(simdjson::dom::element page) {
  if (page["next_cursor"].error() == simdjson::NO_SUCH_FIELD) return {};
  return text(page["next_cursor"]);
}

// A node result's devices as "label device pod-name pod-uid".
std::vector<std::string> nodeDevices(simdjson::dom::element result) {
  std::vector<std::string> devices;
  for (simdjson::dom::element device : simdjson::dom::array(result["devices"])) {
    devices.push_back(text(device["label"]) + " " + text(device["device"]) + " " +
                      text(device["pod"]["name"]) + " " + text(device["pod"]["uid"]));
  }
  return devices;
}

// A pod result's devices as "node label device".
std::vector<std::string> podDevices(simdjson::dom::element result) {
  std::vector<std::string> devices;
  for (simdjson::dom::element device : simdjson::dom::array(result["devices"])) {
    devices.push_back(text(device["node"]) + " " + text(device["label"]) + " " +
                      text(device["device"]));
  }
  return devices;
}

// Three nodes; worker-0 and worker-1 under the leaf pretrain-worker of the job pretrain (rows in
// either order), worker-2 under the job alone, loader-0 under none; launcher-0 and eval-0 are
// known from their workloads only.
std::shared_ptr<const cache::ClusterSnapshot> cluster() {
  cache::SnapshotBuilder builder;
  builder.addDevice(gpu("gpu-node-1", "worker-1", "uid-w1", 10));
  builder.addDevice(gpu("gpu-node-1", "worker-1", "uid-w1", 2));
  builder.addDevice(gpu("gpu-node-1", "worker-0", "uid-w0", 1));
  builder.addDevice(gpu("gpu-node-1", "worker-1", "uid-w1", 0));
  builder.addDevice(ib("gpu-node-1", "worker-1", "uid-w1", "mlx5_1"));
  builder.addDevice(gpu("gpu-node-2", "worker-2", "uid-w2", 0));
  builder.addDevice(ib("cpu-node-1", "loader-0", "uid-l0", "mlx5_0"));
  builder.addWorkloadPod(reference("worker-0", "uid-w0", "pretrain", "w-job"));
  builder.addWorkloadPod(reference("worker-0", "uid-w0", "pretrain-worker", "w-leaf", "w-job"));
  builder.addWorkloadPod(reference("worker-1", "uid-w1", "pretrain-worker", "w-leaf", "w-job"));
  builder.addWorkloadPod(reference("worker-1", "uid-w1", "pretrain", "w-job"));
  builder.addWorkloadPod(reference("worker-2", "uid-w2", "pretrain", "w-job"));
  builder.addWorkloadPod(reference("launcher-0", "uid-launch", "pretrain", "w-job"));
  builder.addWorkloadPod(reference("eval-0", "uid-e0", "pretrain", "w-eval"));
  return builder.build();
}

TEST(CacheSearch, PodsByNamePrefixInNameOrder) {
  Search search(cluster());
  EXPECT_EQ(
      resultRefs(search.page(query(SearchBy::kPod, "worker-")), "pod"),
      (std::vector<Ref>{{"worker-0", "uid-w0"}, {"worker-1", "uid-w1"}, {"worker-2", "uid-w2"}}));
  EXPECT_EQ(resultRefs(search.page(query(SearchBy::kPod, "worker-1")), "pod"),
            (std::vector<Ref>{{"worker-1", "uid-w1"}}));
  // Every pod; one known only from its workloads has no UID here.
  EXPECT_EQ(resultRefs(search.page(query(SearchBy::kPod, "")), "pod"),
            (std::vector<Ref>{{"eval-0", ""},
                              {"launcher-0", ""},
                              {"loader-0", "uid-l0"},
                              {"worker-0", "uid-w0"},
                              {"worker-1", "uid-w1"},
                              {"worker-2", "uid-w2"}}));
  const simdjson::dom::element none = search.page(query(SearchBy::kPod, "zzz"));
  EXPECT_EQ(simdjson::dom::array(none["results"]).size(), 0u);
  EXPECT_EQ(nextCursor(none), "");
}

TEST(CacheSearch, PodsByUidPrefixInUidOrder) {
  Search search(cluster());
  EXPECT_EQ(
      resultRefs(search.page(query(SearchBy::kPodUid, "uid-w")), "pod"),
      (std::vector<Ref>{{"worker-0", "uid-w0"}, {"worker-1", "uid-w1"}, {"worker-2", "uid-w2"}}));
  EXPECT_EQ(resultRefs(search.page(query(SearchBy::kPodUid, "uid-l")), "pod"),
            (std::vector<Ref>{{"loader-0", "uid-l0"}, {"", "uid-launch"}}));
  // A device pod without workloads, and pods known from their workloads only, by UID too.
  EXPECT_EQ(resultRefs(search.page(query(SearchBy::kPodUid, "")), "pod"),
            (std::vector<Ref>{{"", "uid-e0"},
                              {"loader-0", "uid-l0"},
                              {"", "uid-launch"},
                              {"worker-0", "uid-w0"},
                              {"worker-1", "uid-w1"},
                              {"worker-2", "uid-w2"}}));
}

TEST(CacheSearch, NodesByPrefixInNameOrder) {
  Search search(cluster());
  EXPECT_EQ(resultNodes(search.page(query(SearchBy::kNode, "gpu-"))),
            (std::vector<std::string>{"gpu-node-1", "gpu-node-2"}));
  EXPECT_EQ(resultNodes(search.page(query(SearchBy::kNode, ""))),
            (std::vector<std::string>{"cpu-node-1", "gpu-node-1", "gpu-node-2"}));
  EXPECT_TRUE(resultNodes(search.page(query(SearchBy::kNode, "worker"))).empty());
}

TEST(CacheSearch, NodeDevicesComeByLabelWithGpuIdsInNumericOrder) {
  Search search(cluster());
  const simdjson::dom::element page = search.page(query(SearchBy::kNode, "gpu-node-1"));
  ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
  const simdjson::dom::element node = page["results"].at(0);
  EXPECT_EQ(text(node["node"]), "gpu-node-1");
  EXPECT_EQ(nodeDevices(node),
            (std::vector<std::string>{"gpu_id 0 worker-1 uid-w1", "gpu_id 1 worker-0 uid-w0",
                                      "gpu_id 2 worker-1 uid-w1", "gpu_id 10 worker-1 uid-w1",
                                      "device mlx5_1 worker-1 uid-w1"}));
  EXPECT_FALSE(bool(node["devices_truncated"]));
}

TEST(CacheSearch, PodDevicesAreItsOwnWithGpuIdsInNumericOrder) {
  Search search(cluster());
  const simdjson::dom::element page = search.page(query(SearchBy::kPod, "worker-1"));
  ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
  EXPECT_EQ(podDevices(page["results"].at(0)),
            (std::vector<std::string>{"gpu-node-1 gpu_id 0", "gpu-node-1 gpu_id 2",
                                      "gpu-node-1 gpu_id 10", "gpu-node-1 device mlx5_1"}));
}

TEST(CacheSearch, NodeDevicesAreCapped) {
  cache::SnapshotBuilder builder;
  const int devices = static_cast<int>(kMaxDevicesShown) + 44;
  for (int number = 0; number < devices; ++number) {
    builder.addDevice(gpu("big-node", "big-0", "uid-big", number));
  }
  Search search(builder.build());
  const simdjson::dom::element page = search.page(query(SearchBy::kNode, "big-node"));
  ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
  const std::vector<std::string> shown = nodeDevices(page["results"].at(0));
  ASSERT_EQ(shown.size(), kMaxDevicesShown);
  EXPECT_EQ(shown.front(), "gpu_id 0 big-0 uid-big");
  EXPECT_EQ(shown.back(), "gpu_id " + std::to_string(kMaxDevicesShown - 1) + " big-0 uid-big");
  EXPECT_TRUE(bool(page["results"].at(0)["devices_truncated"]));
}

TEST(CacheSearch, PodKnownOnlyByItsWorkloadAppearsByUidAndByName) {
  Search search(cluster());
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kPodUid, "uid-launch"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    const simdjson::dom::element pod = page["results"].at(0);
    EXPECT_EQ(refOf(pod["pod"]), Ref("", "uid-launch"));
    EXPECT_TRUE(podDevices(pod).empty());
    EXPECT_EQ(refsOf(pod["workloads"]), (std::vector<Ref>{{"pretrain", "w-job"}}));
    EXPECT_EQ(refOf(pod["nearest_workload"]), Ref("pretrain", "w-job"));
  }
  {
    // Without its UID: the workloads of every pod of the name, and no nearest one.
    const simdjson::dom::element page = search.page(query(SearchBy::kPod, "launcher"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    const simdjson::dom::element pod = page["results"].at(0);
    EXPECT_EQ(refOf(pod["pod"]), Ref("launcher-0", ""));
    EXPECT_TRUE(podDevices(pod).empty());
    EXPECT_EQ(refsOf(pod["workloads"]), (std::vector<Ref>{{"pretrain", "w-job"}}));
    EXPECT_TRUE(pod["nearest_workload"].is_null());
  }
}

TEST(CacheSearch, NearestWorkloadIsTheChildOfAnotherWorkloadOfThePod) {
  Search search(cluster());
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kPod, "worker-0"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    const simdjson::dom::element pod = page["results"].at(0);
    // Listed by UID, so the job comes first; the leaf is its child.
    EXPECT_EQ(refsOf(pod["workloads"]),
              (std::vector<Ref>{{"pretrain", "w-job"}, {"pretrain-worker", "w-leaf"}}));
    EXPECT_EQ(refOf(pod["nearest_workload"]), Ref("pretrain-worker", "w-leaf"));
  }
  {
    // Rows in the other order give the same.
    const simdjson::dom::element page = search.page(query(SearchBy::kPodUid, "uid-w1"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    EXPECT_EQ(refOf(page["results"].at(0)["nearest_workload"]), Ref("pretrain-worker", "w-leaf"));
  }
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kPod, "worker-2"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    EXPECT_EQ(refOf(page["results"].at(0)["nearest_workload"]), Ref("pretrain", "w-job"));
  }
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kPod, "loader-0"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    EXPECT_TRUE(refsOf(page["results"].at(0)["workloads"]).empty());
    EXPECT_TRUE(page["results"].at(0)["nearest_workload"].is_null());
  }
}

TEST(CacheSearch, PodWorkloadsAreByUidWhenKnownElseByName) {
  cache::SnapshotBuilder builder;
  // Two pods named trainer-0 (two namespaces), known from their workloads only.
  builder.addWorkloadPod(reference("trainer-0", "uid-x", "job-x", "w-x"));
  builder.addWorkloadPod(reference("trainer-0", "uid-y", "job-y", "w-y"));
  // A device pod with no workload of its UID, whose name another namespace's pod shares.
  builder.addDevice(gpu("node", "solo-0", "uid-s", 0));
  builder.addWorkloadPod(reference("solo-0", "uid-other", "job-s", "w-s"));
  Search search(builder.build());

  EXPECT_EQ(
      refsOf(search.page(query(SearchBy::kPodUid, "uid-x")).at_pointer("/results/0/workloads")),
      (std::vector<Ref>{{"job-x", "w-x"}}));
  EXPECT_EQ(
      refsOf(search.page(query(SearchBy::kPodUid, "uid-y")).at_pointer("/results/0/workloads")),
      (std::vector<Ref>{{"job-y", "w-y"}}));
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kPod, "trainer-0"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    EXPECT_EQ(refOf(page["results"].at(0)["pod"]), Ref("trainer-0", ""));
    EXPECT_EQ(refsOf(page["results"].at(0)["workloads"]),
              (std::vector<Ref>{{"job-x", "w-x"}, {"job-y", "w-y"}}));
  }
  {
    // As the enricher resolves it: its UID has no workload, so its name's.
    const simdjson::dom::element page = search.page(query(SearchBy::kPod, "solo-0"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    const simdjson::dom::element pod = page["results"].at(0);
    EXPECT_EQ(refOf(pod["pod"]), Ref("solo-0", "uid-s"));
    EXPECT_EQ(podDevices(pod), (std::vector<std::string>{"node gpu_id 0"}));
    EXPECT_EQ(refsOf(pod["workloads"]), (std::vector<Ref>{{"job-s", "w-s"}}));
    EXPECT_TRUE(pod["nearest_workload"].is_null());
  }
}

TEST(CacheSearch, WorkloadsByNamePrefixInNameThenUidOrderWithTheirPods) {
  Search search(cluster());
  const simdjson::dom::element page = search.page(query(SearchBy::kWorkload, "pretrain"));
  EXPECT_EQ(resultRefs(page, "workload"),
            (std::vector<Ref>{
                {"pretrain", "w-eval"}, {"pretrain", "w-job"}, {"pretrain-worker", "w-leaf"}}));
  ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 3u);
  // Pods by UID; a pod known from its workload only has no name to show.
  const simdjson::dom::element job = page["results"].at(1);
  EXPECT_EQ(refsOf(job["pods"]), (std::vector<Ref>{{"", "uid-launch"},
                                                   {"worker-0", "uid-w0"},
                                                   {"worker-1", "uid-w1"},
                                                   {"worker-2", "uid-w2"}}));
  EXPECT_FALSE(bool(job["pods_truncated"]));
  EXPECT_EQ(refsOf(page["results"].at(2)["pods"]),
            (std::vector<Ref>{{"worker-0", "uid-w0"}, {"worker-1", "uid-w1"}}));

  EXPECT_EQ(resultRefs(search.page(query(SearchBy::kWorkload, "pretrain-")), "workload"),
            (std::vector<Ref>{{"pretrain-worker", "w-leaf"}}));
  EXPECT_TRUE(resultRefs(search.page(query(SearchBy::kWorkload, "w-job")), "workload").empty());
}

TEST(CacheSearch, WorkloadPodsAreCappedAndSaySo) {
  cache::SnapshotBuilder builder;
  for (int i = 0; i <= static_cast<int>(kMaxPodsShown); ++i) {
    builder.addWorkloadPod(reference("wide-" + padded(i), "u-" + padded(i), "wide", "w-wide"));
  }
  for (int i = 0; i < static_cast<int>(kMaxPodsShown); ++i) {
    builder.addWorkloadPod(reference("exact-" + padded(i), "e-" + padded(i), "exact", "w-exact"));
  }
  Search search(builder.build());
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kWorkload, "wide"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    const std::vector<Ref> pods = refsOf(page["results"].at(0)["pods"]);
    ASSERT_EQ(pods.size(), kMaxPodsShown);
    EXPECT_EQ(pods.front().second, "u-000");
    EXPECT_EQ(pods.back().second, "u-" + padded(static_cast<int>(kMaxPodsShown) - 1));
    EXPECT_TRUE(bool(page["results"].at(0)["pods_truncated"]));
  }
  {
    const simdjson::dom::element page = search.page(query(SearchBy::kWorkload, "exact"));
    ASSERT_EQ(simdjson::dom::array(page["results"]).size(), 1u);
    EXPECT_EQ(refsOf(page["results"].at(0)["pods"]).size(), kMaxPodsShown);
    EXPECT_FALSE(bool(page["results"].at(0)["pods_truncated"]));
  }
}

// Pods pod-0..pod-4 with devices, pod-5 known from its workload only (no UID by name), and two
// pods named pod-dup: keys that tie, and a cursor with an empty second part.
std::shared_ptr<const cache::ClusterSnapshot> pagedCluster() {
  cache::SnapshotBuilder builder;
  for (int i = 0; i < 5; ++i) {
    builder.addDevice(gpu("node", "pod-" + std::to_string(i), "u-" + std::to_string(i), i));
  }
  builder.addWorkloadPod(reference("pod-5", "u-5", "job", "w-job"));
  builder.addDevice(gpu("node", "pod-dup", "u-d2", 11));
  builder.addDevice(gpu("node", "pod-dup", "u-d1", 10));
  return builder.build();
}

struct Pages {
  std::vector<Ref> pods;             // every page's, in order
  std::vector<std::string> cursors;  // each next_cursor given
  size_t count = 0;
};

// Every page through the route's parameters, following next_cursor until a page has none.
Pages allPages(Search& search, std::string_view by, std::string_view prefix, size_t limit) {
  Pages pages;
  std::string cursor;
  do {
    std::string target = "/ui/api/cache/search?by=" + std::string(by) +
                         "&q=" + std::string(prefix) + "&limit=" + std::to_string(limit);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    const absl::StatusOr<CacheQuery> parsed = parseCacheQuery(target);
    if (!parsed.ok()) {
      ADD_FAILURE() << target << ": " << parsed.status();
      break;
    }
    const simdjson::dom::element page = search.page(*parsed);
    const std::vector<Ref> pods = resultRefs(page, "pod");
    EXPECT_LE(pods.size(), limit);
    pages.pods.insert(pages.pods.end(), pods.begin(), pods.end());
    cursor = nextCursor(page);
    if (!cursor.empty()) pages.cursors.push_back(cursor);
    ++pages.count;
  } while (!cursor.empty() && pages.count < 100);  // a cursor that never ends fails, not hangs
  return pages;
}

TEST(CacheSearch, PagesFollowTheCursorUntilTheEndAndShowEveryPodOnce) {
  Search search(pagedCluster());
  const std::vector<Ref> by_name = {{"pod-0", "u-0"},    {"pod-1", "u-1"},   {"pod-2", "u-2"},
                                    {"pod-3", "u-3"},    {"pod-4", "u-4"},   {"pod-5", ""},
                                    {"pod-dup", "u-d1"}, {"pod-dup", "u-d2"}};
  for (const size_t limit : {1u, 2u, 3u, 7u, 8u, 200u}) {
    SCOPED_TRACE(limit);
    const Pages pages = allPages(search, "pod", "pod-", limit);
    EXPECT_EQ(pages.pods, by_name);
    EXPECT_EQ(pages.count, (by_name.size() + limit - 1) / limit);
  }
  EXPECT_EQ(allPages(search, "pod", "pod-", 3).cursors,
            (std::vector<std::string>{"pod-2/u-2", "pod-5/"}));
  // The cursor between two pods of one name.
  EXPECT_EQ(allPages(search, "pod", "pod-", 7).cursors, (std::vector<std::string>{"pod-dup/u-d1"}));
  // With a narrower prefix.
  const Pages dups = allPages(search, "pod", "pod-d", 1);
  EXPECT_EQ(dups.pods, (std::vector<Ref>{{"pod-dup", "u-d1"}, {"pod-dup", "u-d2"}}));
  EXPECT_EQ(dups.count, 2u);

  // The same pods by UID; pod-5's name is not known from its UID.
  const std::vector<Ref> by_uid = {{"pod-0", "u-0"},    {"pod-1", "u-1"},   {"pod-2", "u-2"},
                                   {"pod-3", "u-3"},    {"pod-4", "u-4"},   {"", "u-5"},
                                   {"pod-dup", "u-d1"}, {"pod-dup", "u-d2"}};
  for (const size_t limit : {1u, 3u, 8u}) {
    SCOPED_TRACE(limit);
    const Pages pages = allPages(search, "pod_uid", "u-", limit);
    EXPECT_EQ(pages.pods, by_uid);
    EXPECT_EQ(pages.count, (by_uid.size() + limit - 1) / limit);
  }
}

TEST(ParseCacheQuery, DefaultsAndGivenValues) {
  const absl::StatusOr<CacheQuery> defaults = parseCacheQuery("/ui/api/cache/search");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->by, SearchBy::kPod);
  EXPECT_EQ(defaults->prefix, "");
  EXPECT_EQ(defaults->after, "");
  EXPECT_EQ(defaults->limit, 50u);

  const absl::StatusOr<CacheQuery> given =
      parseCacheQuery("/ui/api/cache/search?by=node&q=gpu%2Dnode&limit=2&cursor=gpu-node-1%2F");
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->by, SearchBy::kNode);
  EXPECT_EQ(given->prefix, "gpu-node");
  EXPECT_EQ(given->after, "gpu-node-1/");
  EXPECT_EQ(given->limit, 2u);

  EXPECT_EQ(parseCacheQuery("/s?by=pod_uid")->by, SearchBy::kPodUid);
  EXPECT_EQ(parseCacheQuery("/s?by=workload")->by, SearchBy::kWorkload);
  EXPECT_EQ(parseCacheQuery("/s?limit=1")->limit, 1u);
  EXPECT_EQ(parseCacheQuery("/s?limit=200")->limit, kMaxSearchLimit);
  EXPECT_TRUE(parseCacheQuery("/s?q=" + std::string(256, 'a')).ok());
  EXPECT_TRUE(
      parseCacheQuery("/s?cursor=" + std::string(256, 'a') + "/" + std::string(256, 'b')).ok());
}

// The parameter a refusal names (its message up to the colon), or what happened instead.
std::string refusedParameter(const std::string& target) {
  const absl::StatusOr<CacheQuery> parsed = parseCacheQuery(target);
  if (parsed.ok()) return "(accepted)";
  if (!absl::IsInvalidArgument(parsed.status())) return parsed.status().ToString();
  const std::string message(parsed.status().message());
  return message.substr(0, message.find(':'));
}

TEST(ParseCacheQuery, RefusalsNameTheParameter) {
  EXPECT_EQ(refusedParameter("/s?by=container"), "by");
  EXPECT_EQ(refusedParameter("/s?by="), "by");
  EXPECT_EQ(refusedParameter("/s?by=Pod"), "by");
  for (const char* limit : {"0", "201", "-1", "abc", "5x", "", "99999999999999999999999"}) {
    SCOPED_TRACE(limit);
    EXPECT_EQ(refusedParameter(std::string("/s?limit=") + limit), "limit");
  }
  EXPECT_EQ(refusedParameter("/s?q=" + std::string(257, 'a')), "q");
  EXPECT_EQ(refusedParameter("/s?cursor=pod-1"), "cursor");  // no '/': not one this search gave
  EXPECT_EQ(refusedParameter("/s?cursor=" + std::string(257, 'a') + "/" + std::string(256, 'b')),
            "cursor");
}

}  // namespace
}  // namespace tp::console
