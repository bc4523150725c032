#pragma once
// The metric names the remote-write path has received lately, behind /v1/metrics/active: first
// and last seen, and how many series carried each. A request adds each of its distinct names
// once, to one of several independently locked shards; entries unseen for the TTL are removed
// (lazily, at most once per cleanup interval per shard), and the table holds a bounded number of
// names: a name that finds its shard full is counted as not tracked.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/clock.h"
#include "enrich/series_enricher.h"

namespace tp::enrich {

struct ActiveMetricsOptions {
  std::chrono::minutes ttl{30};
  std::chrono::minutes cleanup_interval{5};
  size_t max_entries = 10000;
};

struct ActiveMetric {
  std::string name;
  std::chrono::system_clock::time_point first_seen;
  std::chrono::system_clock::time_point last_seen;
  uint64_t seen_count = 0;
};

class ActiveMetrics {
 public:
  explicit ActiveMetrics(ActiveMetricsOptions options = {},
                         const common::Clock& clock = common::systemClock());

  // Adds `series` sightings of `name` now.
  void record(std::string_view name, uint64_t series);
  // The names seen within the TTL, by name.
  std::vector<ActiveMetric> list();
  uint64_t untracked() const;  // sightings of names that found their shard full

  const ActiveMetricsOptions& options() const { return options_; }

  // Collects the distinct names of one request (views into it) and adds them on commit().
  class Batch final : public SeriesObserver {
   public:
    explicit Batch(ActiveMetrics& metrics) : metrics_(metrics) {}
    // Inline: called for every series of every request.
    void onResolved(const SeriesResolution& resolution) override {
      const std::string_view name = resolution.metric_name;
      if (name.empty()) return;
      const size_t home = slotOf(name);
      for (size_t probe = 0; probe < kProbes; ++probe) {
        Slot& slot = slots_[(home + probe) % kSlots];
        if (slot.count == 0) slot.name = name;
        if (slot.name == name) {
          ++slot.count;
          return;
        }
      }
      Slot& slot = slots_[home];
      spill(slot);
      slot.name = name;
      slot.count = 1;
    }
    void commit();

   private:
    // Exporters interleave names (every metric of one device, then the next device), so the
    // previous name rarely repeats: a small open-addressed table, indexed by a few bytes of the
    // name and probed a few slots on, counts the names of a request; the map holds what does not
    // fit.
    static constexpr size_t kSlots = 64;
    static constexpr size_t kProbes = 4;
    struct Slot {
      std::string_view name;
      uint64_t count = 0;
    };
    static size_t slotOf(std::string_view name) {
      // The length and two 8-byte words (names share prefixes and suffixes such as "gpu_" and
      // "_temperature", not both); the full compare decides.
      uint64_t key = name.size();
      if (name.size() >= 8) {
        key ^= load8(name.data() + name.size() - 8) * 0xC2B2AE3D27D4EB4FULL;
        key ^= load8(name.data() + (name.size() - 8) / 2) * 0x165667B19E3779F9ULL;
      } else {
        for (char c : name) key = key * 131 + static_cast<unsigned char>(c);
      }
      return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> 58);
    }
    static uint64_t load8(const char* at) {
      uint64_t word;
      std::memcpy(&word, at, sizeof(word));
      return word;
    }
    void spill(Slot& slot);

    ActiveMetrics& metrics_;
    std::array<Slot, kSlots> slots_{};
    absl::flat_hash_map<absl::string_view, uint64_t> names_;
  };

 private:
  static constexpr size_t kShards = 16;
  struct Entry {
    std::chrono::system_clock::time_point first_seen;
    std::chrono::system_clock::time_point last_seen;
    uint64_t seen_count = 0;
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<std::string, Entry> entries;
    std::chrono::system_clock::time_point last_cleanup;
    uint64_t untracked = 0;
  };
  // Removes the shard's expired entries; its mutex held.
  void expire(Shard& shard, std::chrono::system_clock::time_point now) const;

  const ActiveMetricsOptions options_;
  const size_t max_per_shard_;
  const common::Clock& clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace tp::enrich
