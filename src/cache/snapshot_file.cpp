#include "cache/snapshot_file.h"

#include <zlib.h>

#include <bit>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "common/durable_file.h"
#include "common/strings.h"

namespace tp::cache {
namespace {

// Numbers are stored in the machine's byte order, as the disk queue stores its own.
static_assert(std::endian::native == std::endian::little);

constexpr std::string_view kMagic = "TPSNAP01";  // the digits are the format version
constexpr size_t kHeaderBytes = kMagic.size() + sizeof(uint64_t) + sizeof(uint32_t);

uint32_t checksum(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

class Writer {
 public:
  template <typename Number>
  void number(Number value) {
    out_.append(reinterpret_cast<const char*>(&value), sizeof(value));
  }
  // Counts and positions; a snapshot's tables stay far below 2^32 entries.
  void u32(size_t value) { number(static_cast<uint32_t>(value)); }
  void text(std::string_view value) {
    u32(value.size());
    out_.append(value);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  template <typename Number>
  bool number(Number* value) {
    if (rest_.size() < sizeof(Number)) return false;
    std::memcpy(value, rest_.data(), sizeof(Number));
    rest_.remove_prefix(sizeof(Number));
    return true;
  }
  // A count of items that take at least `item_bytes` each: a count the rest cannot hold is
  // refused before anything is allocated for it.
  bool count(uint32_t* value, size_t item_bytes) {
    return number(value) && static_cast<uint64_t>(*value) * item_bytes <= rest_.size();
  }
  // An index into a table of `size` entries.
  bool index(uint32_t* value, size_t size) { return number(value) && *value < size; }
  bool text(std::string* value) {
    uint32_t size = 0;
    if (!number(&size) || size > rest_.size()) return false;
    value->assign(rest_.data(), size);
    rest_.remove_prefix(size);
    return true;
  }
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace

// The tables as the snapshot holds them: workloads and pods once each, everything else refers to
// them by position, so loading rebuilds the same pointers without the database rows.
class SnapshotCodec {
 public:
  static void encode(const ClusterSnapshot& snapshot, Writer& out) {
    absl::flat_hash_map<const WorkloadRef*, uint32_t> workload_index;
    out.u32(snapshot.workloads_.size());
    for (const auto& workload : snapshot.workloads_) {
      workload_index.emplace(workload.get(), static_cast<uint32_t>(workload_index.size()));
      out.text(workload->name);
      out.text(workload->uid);
    }
    absl::flat_hash_map<const PodRef*, uint32_t> pod_index;
    out.u32(snapshot.pods_.size());
    for (const auto& pod : snapshot.pods_) {
      pod_index.emplace(pod.get(), static_cast<uint32_t>(pod_index.size()));
      out.text(pod->name);
      out.text(pod->uid);
    }
    out.u32(snapshot.nodes_.size());
    for (const auto& [node, devices] : snapshot.nodes_) {
      out.text(node);
      for (const auto& map : devices) {
        out.u32(map.size());
        for (const auto& [key, pod] : map) {
          out.text(key);
          out.u32(pod_index.at(pod));
        }
      }
    }
    for (const auto* lists : {&snapshot.workloads_by_pod_name_, &snapshot.workloads_by_pod_uid_}) {
      out.u32(lists->size());
      for (const auto& [key, list] : *lists) {
        out.text(key);
        out.u32(list.size());
        for (const WorkloadRef* workload : list) out.u32(workload_index.at(workload));
      }
    }
    out.u32(snapshot.nearest_by_pod_uid_.size());
    for (const auto& [pod_uid, workload] : snapshot.nearest_by_pod_uid_) {
      out.text(pod_uid);
      out.u32(workload_index.at(workload));
    }
    out.number(static_cast<uint64_t>(snapshot.ignored_unknown_type_));
    out.number(static_cast<uint64_t>(snapshot.ignored_without_number_));
  }

  static std::shared_ptr<const ClusterSnapshot> decode(Reader& in) {
    std::unique_ptr<ClusterSnapshot> snapshot(new ClusterSnapshot());
    constexpr size_t kTextBytes = sizeof(uint32_t);
    constexpr size_t kIndexBytes = sizeof(uint32_t);
    uint32_t count = 0;
    if (!in.count(&count, 2 * kTextBytes)) return nullptr;
    for (uint32_t i = 0; i < count; ++i) {
      auto workload = std::make_unique<WorkloadRef>();
      if (!in.text(&workload->name) || !in.text(&workload->uid)) return nullptr;
      snapshot->workloads_.push_back(std::move(workload));
    }
    if (!in.count(&count, 2 * kTextBytes)) return nullptr;
    for (uint32_t i = 0; i < count; ++i) {
      auto pod = std::make_unique<PodRef>();
      if (!in.text(&pod->name) || !in.text(&pod->uid)) return nullptr;
      snapshot->pods_.push_back(std::move(pod));
    }
    if (!in.count(&count, kTextBytes + kDeviceLabels * sizeof(uint32_t))) return nullptr;
    for (uint32_t i = 0; i < count; ++i) {
      std::string node;
      if (!in.text(&node)) return nullptr;
      // The encoder writes each key once; a repeated one would make the counts lie.
      auto [entry, new_node] = snapshot->nodes_.try_emplace(node);
      if (!new_node) return nullptr;
      auto& devices = entry->second;
      for (auto& map : devices) {
        uint32_t size = 0;
        if (!in.count(&size, kTextBytes + kIndexBytes)) return nullptr;
        for (uint32_t j = 0; j < size; ++j) {
          std::string key;
          uint32_t pod = 0;
          if (!in.text(&key) || !in.index(&pod, snapshot->pods_.size())) return nullptr;
          if (!map.try_emplace(std::move(key), snapshot->pods_[pod].get()).second) return nullptr;
        }
        snapshot->device_count_ += map.size();
      }
    }
    for (auto* lists : {&snapshot->workloads_by_pod_name_, &snapshot->workloads_by_pod_uid_}) {
      if (!in.count(&count, 2 * kTextBytes)) return nullptr;
      for (uint32_t i = 0; i < count; ++i) {
        std::string key;
        uint32_t size = 0;
        if (!in.text(&key) || !in.count(&size, kIndexBytes)) return nullptr;
        auto [entry, new_key] = lists->try_emplace(key);
        if (!new_key) return nullptr;
        WorkloadList& list = entry->second;
        for (uint32_t j = 0; j < size; ++j) {
          uint32_t workload = 0;
          if (!in.index(&workload, snapshot->workloads_.size())) return nullptr;
          list.push_back(snapshot->workloads_[workload].get());
        }
      }
    }
    if (!in.count(&count, kTextBytes + kIndexBytes)) return nullptr;
    for (uint32_t i = 0; i < count; ++i) {
      std::string pod_uid;
      uint32_t workload = 0;
      if (!in.text(&pod_uid) || !in.index(&workload, snapshot->workloads_.size())) return nullptr;
      if (!snapshot->nearest_by_pod_uid_
               .try_emplace(std::move(pod_uid), snapshot->workloads_[workload].get())
               .second) {
        return nullptr;
      }
    }
    uint64_t unknown_type = 0;
    uint64_t without_number = 0;
    if (!in.number(&unknown_type) || !in.number(&without_number) || !in.done()) return nullptr;
    snapshot->ignored_unknown_type_ = unknown_type;
    snapshot->ignored_without_number_ = without_number;
    snapshot->linkPods();
    return std::shared_ptr<const ClusterSnapshot>(snapshot.release());
  }
};

std::string encodeSnapshot(const ClusterSnapshot& snapshot,
                           std::chrono::system_clock::time_point read_at) {
  Writer out;
  out.out().append(kHeaderBytes, '\0');  // filled in once the payload is known
  out.number(static_cast<int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(read_at.time_since_epoch()).count()));
  SnapshotCodec::encode(snapshot, out);
  std::string& bytes = out.out();
  const std::string_view payload = std::string_view(bytes).substr(kHeaderBytes);
  const uint64_t length = payload.size();
  const uint32_t crc = checksum(payload);
  std::memcpy(bytes.data(), kMagic.data(), kMagic.size());
  std::memcpy(bytes.data() + kMagic.size(), &length, sizeof(length));
  std::memcpy(bytes.data() + kMagic.size() + sizeof(length), &crc, sizeof(crc));
  return std::move(bytes);
}

absl::StatusOr<StoredSnapshot> decodeSnapshot(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) {
    return absl::DataLossError(common::concat("truncated: ", bytes.size(), " bytes"));
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError("not a cluster snapshot file of this version");
  }
  uint64_t length = 0;
  uint32_t crc = 0;
  std::memcpy(&length, bytes.data() + kMagic.size(), sizeof(length));
  std::memcpy(&crc, bytes.data() + kMagic.size() + sizeof(length), sizeof(crc));
  const std::string_view payload = bytes.substr(kHeaderBytes);
  if (payload.size() != length) {
    return absl::DataLossError(common::concat(payload.size() < length ? "truncated" : "overlong",
                                              ": payload of ", payload.size(),
                                              " bytes, header says ", length));
  }
  if (checksum(payload) != crc) return absl::DataLossError("checksum mismatch");
  return decodeSnapshotPayload(payload);
}

absl::StatusOr<StoredSnapshot> decodeSnapshotPayload(std::string_view payload) {
  Reader in(payload);
  int64_t read_at_ms = 0;
  // Within what a system_clock time point holds (nanoseconds: until 2262).
  constexpr int64_t kLatestMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::duration::max())
                                    .count();
  if (!in.number(&read_at_ms) || read_at_ms < 0 || read_at_ms > kLatestMs) {
    return absl::DataLossError("malformed payload");
  }
  auto snapshot = SnapshotCodec::decode(in);
  if (snapshot == nullptr) return absl::DataLossError("malformed payload");
  return StoredSnapshot{
      .snapshot = std::move(snapshot),
      .read_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(read_at_ms))};
}

absl::Status writeSnapshotFile(const std::filesystem::path& path, const ClusterSnapshot& snapshot,
                               std::chrono::system_clock::time_point read_at) {
  return common::replaceFileDurably(path, encodeSnapshot(snapshot, read_at));
}

absl::StatusOr<StoredSnapshot> readSnapshotFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> bytes = common::readWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  auto stored = decodeSnapshot(*bytes);
  if (!stored.ok()) {
    return absl::DataLossError(
        common::concat(path.string(), ": ", common::message(stored.status())));
  }
  return stored;
}

}  // namespace tp::cache
