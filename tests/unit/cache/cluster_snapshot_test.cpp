#include "cache/cluster_snapshot.h"

#include <gtest/gtest.h>

#include "cache/cache_json.h"

namespace tp::cache {
namespace {

storage::DevicePodRow device(std::string node, std::string pod, std::string uid, std::string type,
                             std::string name, std::optional<int> number) {
  return {std::move(node), std::move(pod),  std::move(uid),
          std::move(type), std::move(name), number};
}

storage::WorkloadPodRow reference(std::string pod, std::string pod_uid, std::string workload,
                                  std::string workload_uid, std::string parent = "") {
  return {std::move(pod), std::move(pod_uid), std::move(workload), std::move(workload_uid),
          std::move(parent)};
}

TEST(DeviceLabelOf, MapsTheFourKnownTypes) {
  DeviceLabel label;
  ASSERT_TRUE(deviceLabelOf("gpu", &label));
  EXPECT_EQ(label, DeviceLabel::kGpuId);
  ASSERT_TRUE(deviceLabelOf("ib", &label));
  EXPECT_EQ(label, DeviceLabel::kDevice);
  ASSERT_TRUE(deviceLabelOf("rdma", &label));
  EXPECT_EQ(label, DeviceLabel::kDevice);
  ASSERT_TRUE(deviceLabelOf("ASIC", &label));
  EXPECT_EQ(label, DeviceLabel::kAsic);
  ASSERT_TRUE(deviceLabelOf("GPU", &label));  // case as written by other Lens versions
  EXPECT_FALSE(deviceLabelOf("npu", &label));
  EXPECT_FALSE(deviceLabelOf("", &label));
}

TEST(SnapshotBuilder, KeysGpusByNumberAndOtherDevicesByName) {
  SnapshotBuilder builder;
  builder.addDevice(device("n1", "p", "u", "gpu", "card3", 3));
  builder.addDevice(device("n1", "p", "u", "rdma", "rdma3", 3));
  builder.addDevice(device("n1", "p", "u", "ASIC", "asic-x", std::nullopt));
  const auto snapshot = builder.build();
  ASSERT_NE(snapshot->podOfDevice("n1", DeviceLabel::kGpuId, "3"), nullptr);
  EXPECT_EQ(snapshot->podOfDevice("n1", DeviceLabel::kGpuId, "3")->uid, "u");
  EXPECT_EQ(snapshot->podOfDevice("n1", DeviceLabel::kGpuId, "card3"), nullptr);
  EXPECT_NE(snapshot->podOfDevice("n1", DeviceLabel::kDevice, "rdma3"), nullptr);
  EXPECT_NE(snapshot->podOfDevice("n1", DeviceLabel::kAsic, "asic-x"), nullptr);
  EXPECT_EQ(snapshot->podOfDevice("n2", DeviceLabel::kGpuId, "3"), nullptr);
  EXPECT_EQ(snapshot->deviceCount(), 3u);
  EXPECT_EQ(snapshot->podCount(), 1u);
}

TEST(SnapshotBuilder, CountsIgnoredDevices) {
  SnapshotBuilder builder;
  builder.addDevice(device("n1", "p", "u", "npu", "npu0", 0));
  builder.addDevice(device("n1", "p", "u", "gpu", "card0", std::nullopt));
  const auto snapshot = builder.build();
  EXPECT_EQ(snapshot->ignoredUnknownType(), 1u);
  EXPECT_EQ(snapshot->ignoredWithoutNumber(), 1u);
  EXPECT_EQ(snapshot->deviceCount(), 0u);
  EXPECT_EQ(snapshot->node("n1"), nullptr);
}

TEST(SnapshotBuilder, NearestWorkloadIsTheLeaf) {
  SnapshotBuilder builder;
  // Parent listed first, child second, grandchild third: the grandchild is the leaf.
  builder.addWorkloadPod(reference("p", "u", "top", "w-c", ""));
  builder.addWorkloadPod(reference("p", "u", "middle", "w-b", "w-c"));
  builder.addWorkloadPod(reference("p", "u", "leaf", "w-a", "w-b"));
  builder.addWorkloadPod(reference("q", "v", "top", "w-c", ""));
  const auto snapshot = builder.build();
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("u")->name, "leaf");
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("v")->name, "top");
  EXPECT_EQ(snapshot->workloadsOfPodUid("u")->size(), 3u);
  EXPECT_EQ(snapshot->nearestWorkloadOfPod("missing"), nullptr);
}

TEST(SnapshotBuilder, NearestIsStableAmongUnrelatedWorkloads) {
  for (const bool reversed : {false, true}) {
    SnapshotBuilder builder;
    auto first = reference("p", "u", "b-job", "w-2");
    auto second = reference("p", "u", "a-job", "w-1");
    builder.addWorkloadPod(reversed ? second : first);
    builder.addWorkloadPod(reversed ? first : second);
    EXPECT_EQ(builder.build()->nearestWorkloadOfPod("u")->uid, "w-1");
  }
}

TEST(SnapshotBuilder, PodNameJoinsNamespacesAndDeduplicates) {
  SnapshotBuilder builder;
  builder.addWorkloadPod(reference("worker-0", "uid-a", "job-a", "w-a"));
  builder.addWorkloadPod(reference("worker-0", "uid-b", "job-b", "w-b"));
  builder.addWorkloadPod(reference("worker-0", "uid-a", "job-a", "w-a"));  // repeated row
  const auto snapshot = builder.build();
  const WorkloadList* by_name = snapshot->workloadsOfPodName("worker-0");
  ASSERT_NE(by_name, nullptr);
  ASSERT_EQ(by_name->size(), 2u);
  EXPECT_EQ((*by_name)[0]->uid, "w-a");
  EXPECT_EQ((*by_name)[1]->uid, "w-b");
  EXPECT_EQ(snapshot->workloadsOfPodUid("uid-b")->size(), 1u);
  EXPECT_EQ(snapshot->workloadCount(), 2u);
}

TEST(SnapshotBuilder, DevicePodsLinkTheirWorkloads) {
  SnapshotBuilder builder;
  builder.addDevice(device("n", "worker-0", "uid-a", "gpu", "card0", 0));
  builder.addDevice(device("n", "lonely-0", "uid-l", "gpu", "card1", 1));
  builder.addWorkloadPod(reference("worker-0", "uid-a", "job-a", "w-a"));
  builder.addWorkloadPod(reference("worker-0", "uid-b", "job-b", "w-b"));
  const auto snapshot = builder.build();
  const PodRef* pod = snapshot->podOfDevice("n", DeviceLabel::kGpuId, "0");
  ASSERT_NE(pod, nullptr);
  ASSERT_NE(pod->workloads_by_uid, nullptr);
  EXPECT_EQ(pod->workloads_by_uid->size(), 1u);
  ASSERT_NE(pod->workloads_by_name, nullptr);
  EXPECT_EQ(pod->workloads_by_name->size(), 2u);
  const PodRef* lonely = snapshot->podOfDevice("n", DeviceLabel::kGpuId, "1");
  ASSERT_NE(lonely, nullptr);
  EXPECT_EQ(lonely->workloads_by_uid, nullptr);
  EXPECT_EQ(lonely->workloads_by_name, nullptr);
}

TEST(CacheJson, WritesSortedLensShapes) {
  SnapshotBuilder builder;
  builder.addDevice(device("n2", "p2", "u2", "gpu", "card1", 1));
  builder.addDevice(device("n1", "p1", "u1", "ib", "mlx5_1", 1));
  builder.addDevice(device("n1", "p1", "u1", "gpu", "card10", 10));
  builder.addDevice(device("n1", "p1", "u1", "gpu", "card2", 2));
  builder.addWorkloadPod(reference("p2", "u2", "job \"quoted\"", "w2"));
  builder.addWorkloadPod(reference("p1", "u1", "job", "w1"));
  const auto snapshot = builder.build();
  rapidjson::StringBuffer devices;
  common::JsonWriter device_writer(devices);
  writeDevicePodCache(device_writer, *snapshot);
  EXPECT_STREQ(
      devices.GetString(),
      R"({"n1":{"gpu_id":{"10":["p1","u1"],"2":["p1","u1"]},"device":{"mlx5_1":["p1","u1"]}},)"
      R"("n2":{"gpu_id":{"1":["p2","u2"]}}})");
  rapidjson::StringBuffer workloads;
  common::JsonWriter workload_writer(workloads);
  writePodWorkloadCache(workload_writer, *snapshot);
  EXPECT_STREQ(workloads.GetString(), R"({"p1":[["job","w1"]],"p2":[["job \"quoted\"","w2"]]})");
}

TEST(CacheJson, EmptySnapshotIsAnEmptyObject) {
  const auto snapshot = SnapshotBuilder().build();
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writeDevicePodCache(writer, *snapshot);
  EXPECT_STREQ(buffer.GetString(), "{}");
}

}  // namespace
}  // namespace tp::cache
