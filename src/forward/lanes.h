#pragma once
// With metricsWrite.concurrency N > 1 an endpoint sends over N lanes at once, each with its own
// disk queue and sender. A series always takes the same lane (the enricher writes each request's
// series into N parts by a stable hash of their labels, prompb::laneOfSeries) and a lane sends in
// order, so every series reaches storage in the order its samples were accepted: a receiver
// without an out-of-order window (Prometheus) has nothing to reject.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tp::forward {

// The disk caps of an endpoint's lanes, which share `total` (queue.maxDiskUsage): `held[i]` is
// what lane i holds; the first `appending` lanes take new batches, the others only drain. Every
// appending lane may grow by an equal part of the room left, so while the endpoint is under
// `total` no cap is below what its lane holds (a backlog queued for another lane count is neither
// refused nor dropped), and the caps add up to `total` (empty lanes: total / appending each).
// With `drop_oldest`, a lane holding less than an eighth of its fair part may grow to it even
// then: the lanes above give up that room and drop their oldest batches, so that a lane holding
// little can always take a batch. Over `total`, the lanes above shrink in proportion.
std::vector<uint64_t> laneCaps(const std::vector<uint64_t>& held, size_t appending, uint64_t total,
                               bool drop_oldest);

// The lane count an endpoint's queued batches were cut for, kept beside its lanes. After a change
// of metricsWrite.concurrency a series may take another lane, so the batches queued before it (an
// earlier epoch) are all delivered before a later one is sent: no series overtakes itself.
struct LaneMapping {
  int lanes = 0;  // what new batches are cut for
  // Per earlier epoch not yet delivered, oldest first, per lane number: the first segment of that
  // lane's queue holding later batches (lanes past the end: 0, none of that epoch).
  std::vector<std::vector<uint64_t>> epoch_ends;

  bool operator==(const LaneMapping&) const = default;
};

std::string formatLaneMapping(const LaneMapping& mapping);
std::optional<LaneMapping> parseLaneMapping(std::string_view text);

// nullopt when `path` does not exist or does not parse (a warning says so).
std::optional<LaneMapping> readLaneMapping(const std::filesystem::path& path);
// Replaces `path` atomically and durably (temporary file, fsync, rename, directory fsync).
absl::Status writeLaneMapping(const std::filesystem::path& path, const LaneMapping& mapping);

}  // namespace tp::forward
