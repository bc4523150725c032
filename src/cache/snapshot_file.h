#pragma once
// The last cluster snapshot read from the database, kept in a file so that a processor started
// while the database is down can take data at once instead of deferring everything. The file is
// a magic (with the format version), the payload's length and CRC-32, then the payload: the time
// of the database read and the snapshot's tables. It is replaced atomically (temporary file,
// fdatasync, rename, fsync of the directory), so a crash leaves either the old or the new file; a
// truncated file or one failing its checksum is refused, never partly used.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cache/cluster_snapshot.h"

namespace tp::cache {

struct StoredSnapshot {
  std::shared_ptr<const ClusterSnapshot> snapshot;
  std::chrono::system_clock::time_point read_at;  // when it was read from the database
};

std::string encodeSnapshot(const ClusterSnapshot& snapshot,
                           std::chrono::system_clock::time_point read_at);
// DataLossError for bytes that are not a whole, intact snapshot file.
absl::StatusOr<StoredSnapshot> decodeSnapshot(std::string_view bytes);
// The payload behind the header, once its checksum holds (the fuzz target reaches it directly).
absl::StatusOr<StoredSnapshot> decodeSnapshotPayload(std::string_view payload);

absl::Status writeSnapshotFile(const std::filesystem::path& path, const ClusterSnapshot& snapshot,
                               std::chrono::system_clock::time_point read_at);
// NotFoundError when there is no file; DataLossError (naming the file) when it is damaged.
absl::StatusOr<StoredSnapshot> readSnapshotFile(const std::filesystem::path& path);

}  // namespace tp::cache
