// Saved cluster snapshots: arbitrary payload bytes (past the checksum, which a damaged file
// fails first) must decode or be refused without a crash or an oversized allocation; what
// decodes must encode to a file that decodes to a snapshot of the same size (the encoding follows
// hash-map order, so equal snapshots need not have equal bytes).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cache/snapshot_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  auto stored = tp::cache::decodeSnapshotPayload(payload);
  if (!stored.ok()) return 0;
  const std::string file = tp::cache::encodeSnapshot(*stored->snapshot, stored->read_at);
  auto again = tp::cache::decodeSnapshot(file);
  if (!again.ok()) __builtin_trap();
  const tp::cache::ClusterSnapshot& first = *stored->snapshot;
  const tp::cache::ClusterSnapshot& second = *again->snapshot;
  if (second.nodeCount() != first.nodeCount() || second.deviceCount() != first.deviceCount() ||
      second.podNameCount() != first.podNameCount() ||
      second.workloadCount() != first.workloadCount() || again->read_at != stored->read_at ||
      tp::cache::encodeSnapshot(second, again->read_at).size() != file.size()) {
    __builtin_trap();
  }
  return 0;
}
