// The saved cluster snapshot: what is written reads back as the same snapshot with the same
// read time, and a file that is truncated, damaged or not ours is refused, never partly used.

#include "cache/snapshot_file.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cache/cache_json.h"
#include "support/temp_dir.h"

namespace tp::cache {
namespace {

using std::chrono::system_clock;

constexpr size_t kHeaderBytes = 20;  // magic, payload length, CRC-32

const system_clock::time_point kReadAt{std::chrono::milliseconds(1'761'223'152'345)};

std::shared_ptr<const ClusterSnapshot> sampleSnapshot() {
  SnapshotBuilder builder;
  builder.addDevice({"n1", "p1", "u1", "gpu", "card2", 2});
  builder.addDevice({"n1", "p1", "u1", "rdma", "mlx5_1", std::nullopt});
  builder.addDevice({"n2", "p2", "u2", "ASIC", "asic-0", std::nullopt});
  builder.addDevice({"n2", "p2", "u2", "npu", "npu0", 0});              // ignored: unknown type
  builder.addDevice({"n2", "p2", "u2", "gpu", "card9", std::nullopt});  // ignored: no number
  builder.addWorkloadPod({"p1", "u1", "job", "w-job", ""});
  builder.addWorkloadPod({"p1", "u1", "run \"1\"", "w-run", "w-job"});
  builder.addWorkloadPod({"p2", "u2", "job", "w-job", ""});
  builder.addWorkloadPod({"p3", "u3", "other", "w-other", ""});  // a pod without devices
  return builder.build();
}

std::string devicesJson(const ClusterSnapshot& snapshot) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writeDevicePodCache(writer, snapshot);
  return buffer.GetString();
}

std::string workloadsJson(const ClusterSnapshot& snapshot) {
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writePodWorkloadCache(writer, snapshot);
  return buffer.GetString();
}

void expectSameSnapshot(const ClusterSnapshot& actual, const ClusterSnapshot& expected) {
  EXPECT_EQ(devicesJson(actual), devicesJson(expected));
  EXPECT_EQ(workloadsJson(actual), workloadsJson(expected));
  EXPECT_EQ(actual.nodeCount(), expected.nodeCount());
  EXPECT_EQ(actual.deviceCount(), expected.deviceCount());
  EXPECT_EQ(actual.podCount(), expected.podCount());
  EXPECT_EQ(actual.workloadCount(), expected.workloadCount());
  EXPECT_EQ(actual.podNameCount(), expected.podNameCount());
  EXPECT_EQ(actual.ignoredUnknownType(), expected.ignoredUnknownType());
  EXPECT_EQ(actual.ignoredWithoutNumber(), expected.ignoredWithoutNumber());
}

// Rewrites the header's checksum for a changed payload, as a forger (not a torn write) would.
void resign(std::string& bytes) {
  const uint32_t crc = static_cast<uint32_t>(crc32_z(
      0, reinterpret_cast<const Bytef*>(bytes.data() + kHeaderBytes), bytes.size() - kHeaderBytes));
  std::memcpy(bytes.data() + kHeaderBytes - sizeof(crc), &crc, sizeof(crc));
}

TEST(SnapshotFile, RoundTripKeepsEveryTableAndTheReadTime) {
  const auto snapshot = sampleSnapshot();
  const auto stored = decodeSnapshot(encodeSnapshot(*snapshot, kReadAt));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->read_at, kReadAt);
  expectSameSnapshot(*stored->snapshot, *snapshot);
  // The lookups the enricher and the logs path make, with the pods linked to their workloads.
  const ClusterSnapshot& loaded = *stored->snapshot;
  const PodRef* pod = loaded.podOfDevice("n1", DeviceLabel::kGpuId, "2");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->uid, "u1");
  EXPECT_EQ(pod, loaded.podOfDevice("n1", DeviceLabel::kDevice, "mlx5_1"));
  ASSERT_NE(pod->workloads_by_uid, nullptr);
  ASSERT_EQ(pod->workloads_by_uid->size(), 2u);
  EXPECT_EQ(pod->workloads_by_uid, loaded.workloadsOfPodUid("u1"));
  EXPECT_EQ(pod->workloads_by_name, loaded.workloadsOfPodName("p1"));
  ASSERT_NE(loaded.nearestWorkloadOfPod("u1"), nullptr);
  EXPECT_EQ(loaded.nearestWorkloadOfPod("u1")->name, "run \"1\"");
  EXPECT_EQ(loaded.nearestWorkloadOfPod("u2")->name, "job");
  EXPECT_EQ(loaded.nearestWorkloadOfPod("u3")->name, "other");
  // One workload object however many pods refer to it, as the builder makes it.
  EXPECT_EQ((*loaded.workloadsOfPodUid("u1"))[0]->uid, "w-job");
  EXPECT_EQ((*loaded.workloadsOfPodUid("u1"))[0], (*loaded.workloadsOfPodUid("u2"))[0]);
  EXPECT_NE(loaded.podOfDevice("n2", DeviceLabel::kAsic, "asic-0"), nullptr);
}

TEST(SnapshotFile, RoundTripOfAnEmptySnapshot) {
  const auto empty = SnapshotBuilder().build();
  const auto stored = decodeSnapshot(encodeSnapshot(*empty, kReadAt));
  ASSERT_TRUE(stored.ok()) << stored.status();
  expectSameSnapshot(*stored->snapshot, *empty);
  EXPECT_EQ(devicesJson(*stored->snapshot), "{}");
}

TEST(SnapshotFile, WrittenFileReadsBackAndReplacesTheOlderOne) {
  testing::TempDir dir;
  const auto path = dir / "queue" / "cluster-snapshot.bin";  // the directory is created
  ASSERT_TRUE(writeSnapshotFile(path, *SnapshotBuilder().build(), kReadAt).ok());
  const auto later = kReadAt + std::chrono::seconds(20);
  const auto snapshot = sampleSnapshot();
  ASSERT_TRUE(writeSnapshotFile(path, *snapshot, later).ok());
  const auto stored = readSnapshotFile(path);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->read_at, later);
  expectSameSnapshot(*stored->snapshot, *snapshot);
  // Nothing is left beside it.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "queue")) {
    EXPECT_EQ(entry.path().filename(), "cluster-snapshot.bin");
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(SnapshotFile, MissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_TRUE(absl::IsNotFound(readSnapshotFile(dir / "cluster-snapshot.bin").status()));
}

TEST(SnapshotFile, EveryTruncationIsRefused) {
  const std::string bytes = encodeSnapshot(*sampleSnapshot(), kReadAt);
  for (size_t size = 0; size < bytes.size(); ++size) {
    const auto stored = decodeSnapshot(std::string_view(bytes).substr(0, size));
    EXPECT_TRUE(absl::IsDataLoss(stored.status())) << size << ": " << stored.status();
  }
  EXPECT_NE(decodeSnapshot(bytes.substr(0, bytes.size() - 1)).status().message().find("truncated"),
            std::string::npos);
}

TEST(SnapshotFile, TruncatedFileIsRefusedNamingIt) {
  testing::TempDir dir;
  const auto path = dir / "cluster-snapshot.bin";
  ASSERT_TRUE(writeSnapshotFile(path, *sampleSnapshot(), kReadAt).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  const auto stored = readSnapshotFile(path);
  EXPECT_TRUE(absl::IsDataLoss(stored.status())) << stored.status();
  EXPECT_NE(stored.status().message().find(path.string()), std::string::npos);
  EXPECT_NE(stored.status().message().find("truncated"), std::string::npos);
}

TEST(SnapshotFile, EveryFlippedByteFailsTheChecksumOrTheHeader) {
  const std::string bytes = encodeSnapshot(*sampleSnapshot(), kReadAt);
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
    const auto stored = decodeSnapshot(damaged);
    EXPECT_TRUE(absl::IsDataLoss(stored.status())) << at << ": " << stored.status();
  }
  std::string damaged = bytes;
  damaged.back() = static_cast<char>(damaged.back() ^ 1);
  EXPECT_EQ(decodeSnapshot(damaged).status().message(), "checksum mismatch");
}

TEST(SnapshotFile, TrailingBytesAndOtherFilesAreRefused) {
  const std::string bytes = encodeSnapshot(*sampleSnapshot(), kReadAt);
  EXPECT_TRUE(absl::IsDataLoss(decodeSnapshot(bytes + "x").status()));
  EXPECT_TRUE(absl::IsDataLoss(decodeSnapshot(std::string(100, '\0')).status()));
  EXPECT_TRUE(absl::IsDataLoss(decodeSnapshot("TPSNAP99" + bytes.substr(8)).status()));
}

// A payload with a correct checksum but impossible contents (a count larger than the file, an
// index past its table) is refused without allocating for it.
TEST(SnapshotFile, ImpossibleContentsBehindAValidChecksumAreRefused) {
  const std::string bytes = encodeSnapshot(*sampleSnapshot(), kReadAt);
  const size_t workload_count_at = kHeaderBytes + sizeof(int64_t);
  std::string huge_count = bytes;
  const uint32_t count = 0xffffffff;
  std::memcpy(huge_count.data() + workload_count_at, &count, sizeof(count));
  resign(huge_count);
  EXPECT_EQ(decodeSnapshot(huge_count).status().message(), "malformed payload");

  // The sample's last index before the two ignored-device counts is the nearest workload of
  // some pod; pointing it past the workload table must not be followed.
  std::string bad_index = bytes;
  const uint32_t past_the_end = 1000;
  std::memcpy(bad_index.data() + bad_index.size() - 2 * sizeof(uint64_t) - sizeof(uint32_t),
              &past_the_end, sizeof(past_the_end));
  resign(bad_index);
  EXPECT_EQ(decodeSnapshot(bad_index).status().message(), "malformed payload");
}

}  // namespace
}  // namespace tp::cache
