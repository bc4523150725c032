#pragma once
// The lane a remote-write series takes (forward/lanes.h): a stable hash of its encoded label
// fields, shared by every producer of lanes (the enricher, the training series) so that one
// series always lands in one lane, whoever wrote it.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace tp::prompb {

// A stable 64-bit hash (the same in every process and release, unlike absl::Hash), eight bytes
// per step. Queued batches were cut by it: changing it would move series to other lanes.
inline uint64_t stableHash(std::string_view bytes) {
  constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ull;
  uint64_t hash = bytes.size() * kMultiplier;
  size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + at, 8);
    hash = (hash ^ word) * kMultiplier;
    hash ^= hash >> 29;
  }
  uint64_t tail = 0;
  if (at < bytes.size()) std::memcpy(&tail, bytes.data() + at, bytes.size() - at);
  hash = (hash ^ tail) * kMultiplier;
  return hash ^ (hash >> 32);
}

// The lane of `lanes` a series takes, from its TimeSeries label fields (field 1, sorted, written
// before anything else of the series). A series keeps its lane, so a lane that sends in order
// delivers each of its series in order.
inline size_t laneOfSeries(std::string_view label_fields, size_t lanes) {
  return stableHash(label_fields) % lanes;
}

}  // namespace tp::prompb
